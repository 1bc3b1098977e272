/**
 * A generation is one unit in the notebook: where its cells go, what they
 * replace, how they are taken out (one undo step) and inserted again.
 */
import { YNotebook } from '@jupyter/ydoc';
import type * as nbformat from '@jupyterlab/nbformat';

import {
  applyValidated,
  blankCellId,
  boundSnapshot,
  cleanCell,
  emptyInsertionState,
  fingerprint,
  outputsText,
  prepareCell,
  reconcile,
  removeCells,
  unitAnchor,
  ValidatedCells,
  waitingReplacements
} from '../notebook';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);

function code(
  gen: string,
  cellId: string,
  source: string,
  outputs: any[] = []
): nbformat.ICodeCell {
  return {
    id: `cookbook-${gen.slice(0, 6)}-${cellId}`,
    cell_type: 'code',
    source,
    execution_count: 3,
    outputs,
    metadata: { cookbook: { generation_id: gen, cell_id: cellId } }
  };
}

function user(nb: YNotebook, source: string, id: string): void {
  nb.insertCell(nb.cells.length, {
    cell_type: 'code',
    source,
    id,
    metadata: {}
  });
}

function sources(nb: YNotebook): string[] {
  return nb.cells.map(c => c.getSource());
}

function insertRun(
  nb: YNotebook,
  gen: string,
  n: number,
  anchor: string | null
) {
  const cells = new ValidatedCells();
  for (let i = 1; i <= n; i++) {
    cells.validated(`c${i}`, i - 1, code(gen, `c${i}`, `${gen[0]}${i}`));
  }
  const state = emptyInsertionState(anchor);
  reconcile(nb, state, gen, cells);
  return state;
}

describe('a new notebook', () => {
  it('has its untouched empty cell replaced by the first cell', () => {
    const nb = YNotebook.create();
    user(nb, '', 'blank');
    const state = emptyInsertionState(null);
    state.blank = blankCellId(nb);
    expect(state.blank).toBe('blank');
    applyValidated(nb, state, A, 'c1', code(A, 'c1', 'x = 1'), ['c1']);
    applyValidated(nb, state, A, 'c2', code(A, 'c2', 'y = 2'), ['c1', 'c2']);
    expect(sources(nb)).toEqual(['x = 1', 'y = 2']);
  });

  it('keeps a cell the user typed into meanwhile', () => {
    const nb = YNotebook.create();
    user(nb, '', 'blank');
    const state = emptyInsertionState(null);
    state.blank = blankCellId(nb);
    nb.cells[0].setSource('import mine');
    applyValidated(nb, state, A, 'c1', code(A, 'c1', 'x = 1'), ['c1']);
    expect(sources(nb)).toEqual(['import mine', 'x = 1']);
  });

  it('is not "new" when it has more than one cell or a written one', () => {
    const nb = YNotebook.create();
    user(nb, 'print(1)', 'u1');
    expect(blankCellId(nb)).toBeNull();
    user(nb, '', 'u2');
    expect(blankCellId(nb)).toBeNull();
  });
});

describe('where a run goes', () => {
  it('below the active cell, but after the whole run when the active cell is one of its cells', () => {
    const nb = YNotebook.create();
    user(nb, 'mine', 'u1');
    insertRun(nb, A, 3, 'u1');
    user(nb, 'after', 'u2');
    const middle = nb.cells[2].id; // A's second cell
    const anchor = unitAnchor(nb, middle);
    insertRun(nb, B, 2, anchor);
    expect(sources(nb)).toEqual([
      'mine',
      'a1',
      'a2',
      'a3',
      'b1',
      'b2',
      'after'
    ]);
  });

  it('below a plain active cell', () => {
    const nb = YNotebook.create();
    user(nb, 'one', 'u1');
    user(nb, 'two', 'u2');
    insertRun(nb, A, 2, unitAnchor(nb, 'u1'));
    expect(sources(nb)).toEqual(['one', 'a1', 'a2', 'two']);
  });
});

describe('replacing the previous run', () => {
  it('takes the place of its cells, leaving the ones the user edited', () => {
    const nb = YNotebook.create();
    user(nb, 'top', 'u1');
    insertRun(nb, A, 3, null);
    user(nb, 'bottom', 'u2');
    nb.cells[2].setSource('a2 edited');
    const state = emptyInsertionState(null);
    state.replaces = { generations: [A], keep: [nb.cells[2].id] };
    const cells = new ValidatedCells();
    cells.validated('c1', 0, code(B, 'c1', 'b1'));
    cells.validated('c2', 1, code(B, 'c2', 'b2'));
    reconcile(nb, state, B, cells);
    expect(sources(nb)).toEqual(['top', 'b1', 'b2', 'a2 edited', 'bottom']);
  });
});

describe('removing a generation', () => {
  it('takes out all its cells at once: one undo step brings them all back', () => {
    const nb = YNotebook.create();
    user(nb, 'top', 'u1');
    // Insert one cell at a time, as a stream does (several undo steps).
    const cells = new ValidatedCells();
    const state = emptyInsertionState(null);
    for (let i = 1; i <= 4; i++) {
      cells.validated(`c${i}`, i - 1, code(A, `c${i}`, `a${i}`));
      reconcile(nb, state, A, cells, [`c${i}`]);
      nb.undoManager.stopCapturing();
    }
    // Right after another change: the removal still is a step of its own.
    user(nb, 'bottom', 'u2');
    const removed = removeCells(nb, [A]);
    expect(removed.map(r => r.cellId)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(sources(nb)).toEqual(['top', 'bottom']);
    nb.undo();
    expect(sources(nb)).toEqual(['top', 'a1', 'a2', 'a3', 'a4', 'bottom']);
  });

  it('leaves the other runs and the user’s cells alone', () => {
    const nb = YNotebook.create();
    user(nb, 'top', 'u1');
    insertRun(nb, A, 2, null);
    insertRun(nb, B, 2, null);
    removeCells(nb, [A]);
    expect(sources(nb)).toEqual(['top', 'b1', 'b2']);
  });
});

describe('inserting again', () => {
  const ran = code(A, 'c1', 'print(1)', [
    {
      output_type: 'execute_result',
      execution_count: 3,
      data: { 'text/plain': '1' },
      metadata: {}
    }
  ]);

  it('clears execution counts, and outputs when asked', () => {
    const clean = cleanCell(ran, 'clear', {
      generationId: A
    }) as nbformat.ICodeCell;
    expect(clean.execution_count).toBeNull();
    expect(clean.outputs).toEqual([]);
    expect((clean.metadata as any).cookbook.outputs_from).toBeUndefined();
  });

  it('keeps outputs marked as from the original run', () => {
    const kept = cleanCell(ran, 'keep', {
      generationId: A,
      generatedAt: 1767270000
    }) as nbformat.ICodeCell;
    expect(kept.execution_count).toBeNull();
    expect((kept.outputs[0] as any).execution_count).toBeNull();
    expect((kept.metadata as any).cookbook.outputs_from).toEqual({
      generation_id: A,
      generated_at: 1767270000
    });
    // The original is untouched.
    expect(ran.execution_count).toBe(3);
  });
});

describe('trust', () => {
  it('an inserted code cell is trusted: it ran in the user’s kernel', () => {
    const nb = YNotebook.create();
    const cell = prepareCell(code(A, 'c1', 'x'), nb, {
      generation_id: A,
      cell_id: 'c1'
    });
    expect((cell.metadata as any).trusted).toBe(true);
  });
});

describe('a follow-up', () => {
  function parent(): YNotebook {
    const nb = YNotebook.create();
    insertRun(nb, A, 3, null);
    return nb;
  }

  it('replaces a cell in place, under its nbformat id', () => {
    const nb = parent();
    const target = nb.cells[1].id;
    const state = emptyInsertionState(nb.cells[2].id);
    state.sent = Object.fromEntries(
      nb.cells.map(c => [c.id, fingerprint(c.getSource())])
    );
    const cells = new ValidatedCells();
    cells.validated('f1', 0, code(B, 'f1', 'a2 better'), {
      target,
      edited: false
    });
    cells.validated('f2', 1, code(B, 'f2', 'plot()'));
    const result = reconcile(nb, state, B, cells);
    expect(result.inserted.sort()).toEqual(['f1', 'f2']);
    expect(sources(nb)).toEqual(['a1', 'a2 better', 'a3', 'plot()']);
    expect(nb.cells[1].id).toBe(target);
  });

  it('asks before replacing a cell the user edited, then does as told', () => {
    const nb = parent();
    const target = nb.cells[1].id;
    const state = emptyInsertionState(nb.cells[2].id);
    const cells = new ValidatedCells();
    cells.validated('f1', 0, code(B, 'f1', 'a2 better'), {
      target,
      edited: true
    });
    expect(reconcile(nb, state, B, cells).pending).toEqual(['f1']);
    expect(sources(nb)).toEqual(['a1', 'a2', 'a3']);
    const waiting = waitingReplacements(nb, state, B, cells);
    expect(waiting).toEqual([
      { cellId: 'f1', target, oldSource: 'a2', newSource: 'a2 better' }
    ]);
    state.decisions = { f1: 'replace' };
    reconcile(nb, state, B, cells);
    expect(sources(nb)).toEqual(['a1', 'a2 better', 'a3']);
    expect(waitingReplacements(nb, state, B, cells)).toEqual([]);
  });

  it('asks too when the user changed the cell after the follow-up started', () => {
    const nb = parent();
    const target = nb.cells[1].id;
    const state = emptyInsertionState(null);
    state.sent = { [target]: fingerprint('a2') };
    nb.cells[1].setSource('a2 mine');
    const cells = new ValidatedCells();
    cells.validated('f1', 0, code(B, 'f1', 'a2 better'), {
      target,
      edited: false
    });
    expect(reconcile(nb, state, B, cells).pending).toEqual(['f1']);
  });

  it('adds the new cell instead when the user says so, and keeps theirs', () => {
    const nb = parent();
    const target = nb.cells[1].id;
    const state = emptyInsertionState(nb.cells[2].id);
    state.decisions = { f1: 'add' };
    const cells = new ValidatedCells();
    cells.validated('f1', 0, code(B, 'f1', 'a2 better'), {
      target,
      edited: true
    });
    reconcile(nb, state, B, cells);
    expect(sources(nb)).toEqual(['a1', 'a2', 'a3', 'a2 better']);
  });

  it('describes the outputs it sends as short text', () => {
    const nb = YNotebook.create();
    nb.insertCell(0, {
      cell_type: 'code',
      source: 'x',
      metadata: {},
      outputs: [
        { output_type: 'stream', name: 'stdout', text: 'hello\n' },
        {
          output_type: 'error',
          ename: 'NameError',
          evalue: 'y',
          traceback: []
        },
        {
          output_type: 'display_data',
          data: { 'image/png': 'AAAA' },
          metadata: {}
        }
      ]
    } as any);
    expect(outputsText(nb.cells[0])).toBe('hello\n\nNameError: y\n[image/png]');
    expect(outputsText(nb.cells[0], 5)).toBe('hell…');
  });
});

describe('what a follow-up sends', () => {
  const cell = (source: string) => ({ source, outputs_text: '' });

  it('is the whole notebook when it fits', () => {
    const cells = [cell('a'), cell('b')];
    expect(boundSnapshot(cells, new Set([1]))).toEqual(cells);
  });

  it('keeps the thread’s cells and their neighbours when the notebook is too big', () => {
    const cells = 'abcdefgh'.split('').map(cell);
    const kept = boundSnapshot(cells, new Set([5]), {
      cells: 3,
      bytes: 1000,
      source: 100
    });
    expect(kept.map(c => c.source)).toEqual(['e', 'f', 'g']);
  });

  it('stays under the byte budget, and cuts very long sources', () => {
    const cells = [cell('x'.repeat(50)), cell('y'.repeat(50)), cell('z')];
    const kept = boundSnapshot(cells, new Set([2]), {
      cells: 10,
      bytes: 60,
      source: 40
    });
    expect(kept.map(c => c.source.length)).toEqual([40, 1]);
    expect(kept[0].source.endsWith('…')).toBe(true);
  });
});
