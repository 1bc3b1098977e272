import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';

import { DismissalTracker, IDismissible } from '../dismissals';
import { emptyInsertionState, fingerprint } from '../notebook';
import type { INotebookHandle, INotebookHost } from '../notebookHost';

const GEN = 'g'.repeat(32);

function cell(cellId: string, id = `${cellId}-nb`) {
  return {
    id,
    cell_type: 'code' as const,
    source: cellId,
    metadata: { cookbook: { generation_id: GEN, cell_id: cellId } }
  };
}

function setup(...cellIds: string[]) {
  const shared = YNotebook.create();
  cellIds.forEach((id, i) => shared.insertCell(i, cell(id)));
  const cellsChanged = new Signal<INotebookHandle, void>({} as any);
  shared.changed.connect(() => cellsChanged.emit());
  const handle = {
    path: 'a.ipynb',
    shared,
    cellsChanged,
    activeCellId: () => null,
    ensureKernel: async () => null,
    kernelId: () => null
  } as unknown as INotebookHandle;
  const notebooks = { find: () => handle } as unknown as INotebookHost;
  const insertion = emptyInsertionState(null);
  cellIds.forEach(id => (insertion.inserted[id] = fingerprint(id)));
  const gen: IDismissible = {
    id: GEN,
    record: { insertion },
    present: new Set(cellIds)
  };
  const changed: IDismissible[][] = [];
  const tracker = new DismissalTracker({
    notebooks,
    generationsIn: () => [gen],
    onDismissed: c => changed.push(c)
  });
  tracker.watch(handle);
  return { shared, gen, changed, tracker, handle };
}

const settle = () => new Promise(r => setTimeout(r, 10));

describe('DismissalTracker', () => {
  it('remembers a generated cell the user deleted', async () => {
    const { shared, gen, changed, tracker } = setup('c1', 'c2');
    shared.deleteCell(0);
    await settle();
    expect(gen.record.insertion.dismissed).toEqual(['c1']);
    expect(gen.present).toEqual(new Set(['c2']));
    expect(changed).toEqual([[gen]]);
    tracker.dispose();
  });

  it('forgets the dismissal when the cell comes back', async () => {
    const { shared, gen, tracker } = setup('c1', 'c2');
    shared.deleteCell(0);
    await settle();
    shared.insertCell(0, cell('c1'));
    await settle();
    expect(gen.record.insertion.dismissed).toEqual([]);
    tracker.dispose();
  });

  it('does not take a reload from disk for deletions', async () => {
    const { shared, gen, changed, tracker } = setup('c1', 'c2');
    shared.fromJSON({
      cells: [cell('c2', 'fresh')] as any,
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5
    });
    await settle();
    expect(gen.record.insertion.dismissed).toEqual([]);
    expect(changed).toEqual([]);
    tracker.dispose();
  });

  it('watches a notebook once, however often asked', async () => {
    const { shared, handle, changed, tracker } = setup('c1', 'c2');
    tracker.watch(handle);
    shared.deleteCell(0);
    await settle();
    expect(changed).toHaveLength(1);
    tracker.dispose();
  });

  it('stops noticing once disposed', async () => {
    const { shared, gen, tracker } = setup('c1');
    tracker.dispose();
    shared.deleteCell(0);
    await settle();
    expect(gen.record.insertion.dismissed).toEqual([]);
  });
});
