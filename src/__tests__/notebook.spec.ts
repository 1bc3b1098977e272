import { YNotebook } from '@jupyter/ydoc';
import type * as nbformat from '@jupyterlab/nbformat';

import {
  applyCellEvents,
  applyInvalidated,
  applyValidated,
  cookbookTag,
  emptyInsertionState,
  fingerprint,
  planPosition,
  prepareCell,
  reconcile,
  trackDismissals,
  ValidatedCells
} from '../notebook';

const GEN = 'a'.repeat(32);

function codeCell(
  cellId: string,
  source: string,
  outputs: any[] = []
): nbformat.ICodeCell {
  return {
    id: `cookbook-${GEN.slice(0, 12)}-${cellId}`,
    cell_type: 'code',
    source,
    execution_count: 1,
    outputs,
    metadata: { cookbook: { generation_id: GEN, cell_id: cellId, attempt: 1 } }
  };
}

function markdownCell(cellId: string, source: string): nbformat.IMarkdownCell {
  return {
    id: `cookbook-${GEN.slice(0, 12)}-${cellId}`,
    cell_type: 'markdown',
    source,
    metadata: { cookbook: { generation_id: GEN, cell_id: cellId } }
  };
}

function notebookWith(...sources: string[]): YNotebook {
  const nb = YNotebook.create();
  sources.forEach((source, i) =>
    nb.insertCell(i, {
      cell_type: 'code',
      source,
      id: `user-${i}`,
      metadata: {}
    })
  );
  return nb;
}

function sources(nb: YNotebook): string[] {
  return nb.cells.map(c => c.getSource());
}

describe('cookbookTag', () => {
  it('reads the provenance metadata', () => {
    expect(
      cookbookTag({ cookbook: { generation_id: 'g', cell_id: 'c1' } })
    ).toEqual({
      generation_id: 'g',
      cell_id: 'c1'
    });
    expect(cookbookTag({})).toBeNull();
    expect(cookbookTag({ cookbook: { cell_id: 'c1' } })).toBeNull();
  });
});

describe('fingerprint', () => {
  it('is stable and tells different texts apart', () => {
    expect(fingerprint('print(1)')).toBe(fingerprint('print(1)'));
    expect(fingerprint('print(1)')).not.toBe(fingerprint('print(2)'));
  });
});

describe('prepareCell', () => {
  it('keeps the outputs and the provenance', () => {
    const nb = notebookWith('x');
    const cell = codeCell('c1', 'print(1)', [
      { output_type: 'stream', name: 'stdout', text: '1\n' }
    ]);
    const prepared = prepareCell(cell, nb, {
      generation_id: GEN,
      cell_id: 'c1'
    }) as nbformat.ICodeCell;
    expect(prepared.outputs).toHaveLength(1);
    expect(prepared.metadata.cookbook).toEqual({
      generation_id: GEN,
      cell_id: 'c1',
      attempt: 1
    });
    expect(prepared.id).toBe(cell.id);
    expect(prepared).not.toBe(cell);
  });

  it('drops an nbformat id the notebook already uses', () => {
    const nb = notebookWith('x');
    const cell = { ...codeCell('c1', 'print(1)'), id: 'user-0' };
    expect(
      prepareCell(cell, nb, { generation_id: GEN, cell_id: 'c1' }).id
    ).toBeUndefined();
  });
});

describe('applyValidated', () => {
  it('inserts after the anchor cell with outputs and metadata', () => {
    const nb = notebookWith('first', 'second');
    const state = emptyInsertionState('user-0');
    const cell = codeCell('c1', 'print(1)', [
      { output_type: 'stream', name: 'stdout', text: '1\n' }
    ]);
    expect(applyValidated(nb, state, GEN, 'c1', cell, ['c1'])).toBe('inserted');
    expect(sources(nb)).toEqual(['first', 'print(1)', 'second']);
    const inserted = nb.cells[1].toJSON() as nbformat.ICodeCell;
    expect(inserted.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: '1\n' }
    ]);
    expect(inserted.execution_count).toBe(1);
    expect((inserted.metadata as any).cookbook.cell_id).toBe('c1');
  });

  it('appends at the end when there is no anchor', () => {
    const nb = notebookWith('first', 'second');
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1']);
    expect(sources(nb)).toEqual(['first', 'second', 'x = 1']);
  });

  it('keeps a generation contiguous and in its own order', () => {
    const nb = notebookWith('first', 'second');
    const state = emptyInsertionState('user-0');
    const cells = new ValidatedCells();
    cells.validated('c1', 0, markdownCell('c1', '# Title'));
    applyValidated(nb, state, GEN, 'c1', cells.get('c1')!, cells.order);
    cells.validated('c3', 1, codeCell('c3', 'b = 2'));
    applyValidated(nb, state, GEN, 'c3', cells.get('c3')!, cells.order);
    // c2 is validated late but belongs between c1 and c3.
    cells.validated('c2', 1, codeCell('c2', 'a = 1'));
    applyValidated(nb, state, GEN, 'c2', cells.get('c2')!, cells.order);
    expect(sources(nb)).toEqual([
      'first',
      '# Title',
      'a = 1',
      'b = 2',
      'second'
    ]);
  });

  it('never inserts the same cell twice', () => {
    const nb = notebookWith('first');
    const state = emptyInsertionState(null);
    const cell = codeCell('c1', 'x = 1');
    applyValidated(nb, state, GEN, 'c1', cell, ['c1']);
    expect(applyValidated(nb, state, GEN, 'c1', cell, ['c1'])).toBe('present');
    expect(sources(nb)).toEqual(['first', 'x = 1']);
  });

  it('recognises a cell already in the notebook from a previous session', () => {
    const nb = notebookWith('first');
    nb.insertCell(1, codeCell('c1', 'x = 1') as any);
    const state = emptyInsertionState(null); // nothing remembered locally
    expect(
      applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1'])
    ).toBe('present');
    expect(nb.cells).toHaveLength(2);
  });

  it('updates an unedited cell when it is validated again with new content', () => {
    const nb = notebookWith();
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1']);
    const fixed = codeCell('c1', 'x = 2', [
      { output_type: 'stream', name: 'stdout', text: '2' }
    ]);
    expect(applyValidated(nb, state, GEN, 'c1', fixed, ['c1'])).toBe(
      'replaced'
    );
    expect(sources(nb)).toEqual(['x = 2']);
    expect((nb.cells[0].toJSON() as nbformat.ICodeCell).outputs).toHaveLength(
      1
    );
  });

  it('leaves a cell the user edited alone', () => {
    const nb = notebookWith();
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1']);
    nb.cells[0].setSource('x = 1  # mine');
    expect(
      applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 2'), ['c1'])
    ).toBe('kept-edited');
    expect(sources(nb)).toEqual(['x = 1  # mine']);
  });

  it('does not put back a cell the user deleted', () => {
    const nb = notebookWith();
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1']);
    const before = new Set(['c1']);
    nb.deleteCell(0);
    expect(trackDismissals(state, before, new Set())).toBe(true);
    expect(
      applyValidated(nb, state, GEN, 'c1', codeCell('c1', 'x = 1'), ['c1'])
    ).toBe('dismissed');
    expect(nb.cells).toHaveLength(0);
  });

  it('goes through the shared model, so other clients of the document see it', () => {
    const nb = notebookWith('first');
    const seen: number[] = [];
    nb.changed.connect((_, change) => {
      if (change.cellsChange) {
        seen.push(change.cellsChange.length);
      }
    });
    applyValidated(
      nb,
      emptyInsertionState(null),
      GEN,
      'c1',
      codeCell('c1', 'x'),
      ['c1']
    );
    expect(seen.length).toBeGreaterThan(0);
  });
});

describe('applyInvalidated', () => {
  it('removes a withdrawn cell the user did not touch', () => {
    const nb = notebookWith('first');
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', markdownCell('c1', '## Try this'), [
      'c1'
    ]);
    expect(applyInvalidated(nb, state, GEN, 'c1')).toBe('removed');
    expect(sources(nb)).toEqual(['first']);
    expect(state.dismissed).toEqual([]);
  });

  it('keeps a withdrawn cell the user edited', () => {
    const nb = notebookWith();
    const state = emptyInsertionState(null);
    applyValidated(nb, state, GEN, 'c1', markdownCell('c1', '## Try this'), [
      'c1'
    ]);
    nb.cells[0].setSource('## Try this, my notes');
    expect(applyInvalidated(nb, state, GEN, 'c1')).toBe('kept-edited');
    expect(nb.cells).toHaveLength(1);
  });

  it('does nothing for a cell that is not there', () => {
    const nb = notebookWith('first');
    expect(applyInvalidated(nb, emptyInsertionState(null), GEN, 'c9')).toBe(
      'absent'
    );
    expect(sources(nb)).toEqual(['first']);
  });
});

describe('trackDismissals', () => {
  it('takes back a dismissal when the cell returns (undo or paste)', () => {
    const state = emptyInsertionState(null);
    state.inserted.c1 = fingerprint('x');
    trackDismissals(state, new Set(['c1']), new Set());
    expect(state.dismissed).toEqual(['c1']);
    trackDismissals(state, new Set(), new Set(['c1']));
    expect(state.dismissed).toEqual([]);
  });

  it('ignores cells it never inserted', () => {
    const state = emptyInsertionState(null);
    expect(trackDismissals(state, new Set(['c1']), new Set())).toBe(false);
  });
});

describe('planPosition', () => {
  it('falls back to the end when the anchor cell is gone', () => {
    const nb = notebookWith('a', 'b');
    expect(planPosition(nb, GEN, ['c1'], 'c1', 'no-such-cell')).toBe(2);
  });
});

describe('ValidatedCells', () => {
  it('mirrors the server order from validation indexes', () => {
    const cells = new ValidatedCells();
    cells.validated('c1', 0, markdownCell('c1', 'a'));
    cells.validated('c2', 1, codeCell('c2', 'b'));
    cells.validated('c3', 2, codeCell('c3', 'c'));
    cells.invalidated('c2');
    cells.validated('c2', 1, codeCell('c2', 'b2'));
    expect(cells.order).toEqual(['c1', 'c2', 'c3']);
    expect((cells.get('c2') as nbformat.ICodeCell).source).toBe('b2');
  });
});

describe('reconcile', () => {
  function replay() {
    const cells = new ValidatedCells();
    cells.validated('c1', 0, markdownCell('c1', '# Cookbook'));
    cells.validated('c2', 1, markdownCell('c2', '## Step'));
    cells.validated('c3', 2, codeCell('c3', 'print(3)'));
    cells.invalidated('c2');
    return cells;
  }

  it('is idempotent: replaying the stream changes nothing the second time', () => {
    const nb = notebookWith('mine');
    const state = emptyInsertionState('user-0');
    const first = reconcile(nb, state, GEN, replay());
    expect(first.inserted).toEqual(['c1', 'c3']);
    const second = reconcile(nb, state, GEN, replay());
    expect(second).toEqual({ inserted: [], removed: [], pending: [] });
    expect(sources(nb)).toEqual(['mine', '# Cookbook', 'print(3)']);
  });

  it('puts back validated cells lost with unsaved changes after a reload', () => {
    const state = emptyInsertionState(null);
    const before = notebookWith('mine');
    reconcile(before, state, GEN, replay());
    // The page reloads; the notebook comes back from disk without the cells.
    const reloaded = notebookWith('mine');
    const result = reconcile(reloaded, state, GEN, replay());
    expect(result.inserted).toEqual(['c1', 'c3']);
    expect(sources(reloaded)).toEqual(['mine', '# Cookbook', 'print(3)']);
  });

  it('removes cells the generation withdrew while the notebook was away', () => {
    const nb = notebookWith();
    const state = emptyInsertionState(null);
    const cells = new ValidatedCells();
    cells.validated('c1', 0, markdownCell('c1', '## Step'));
    reconcile(nb, state, GEN, cells);
    cells.invalidated('c1');
    expect(reconcile(nb, state, GEN, cells).removed).toEqual(['c1']);
    expect(nb.cells).toHaveLength(0);
  });
});

describe('applyCellEvents', () => {
  const cell = (source: string): nbformat.ICell => ({
    cell_type: 'code',
    source,
    metadata: {},
    outputs: [],
    execution_count: null
  });
  const event = (seq: number, type: string, data: any) => ({
    seq,
    type,
    data,
    ts: 100 + seq
  });

  it('validates and withdraws cells, saying which it touched and when each was validated', () => {
    const cells = new ValidatedCells();
    const changes = applyCellEvents(cells, [
      event(1, 'cell_validated', { cell_id: 'a', index: 0, cell: cell('a') }),
      event(2, 'status', { message: 'thinking' }),
      event(3, 'cell_validated', { cell_id: 'b', index: 1, cell: cell('b') }),
      event(4, 'cell_invalidated', { cell_id: 'a' })
    ]);
    expect(cells.order).toEqual(['b']);
    expect([...changes.touched].sort()).toEqual(['a', 'b']);
    expect(changes.validatedAt).toEqual(
      new Map([
        ['a', 101],
        ['b', 103]
      ])
    );
  });

  it('ignores a validation without its cell', () => {
    const cells = new ValidatedCells();
    const changes = applyCellEvents(cells, [
      event(1, 'cell_validated', { cell_id: 'a', index: 0 })
    ]);
    expect(cells.size).toBe(0);
    expect(changes.touched.size).toBe(0);
  });
});
