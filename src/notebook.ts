/**
 * Puts validated cells into a notebook through its shared model, so
 * collaborators in a real-time session see them too, and never twice.
 *
 * Identity: every Cookbook cell carries `metadata.cookbook = {generation_id,
 * cell_id}`. The notebook's own content is the truth about what is there; a
 * small per-generation state remembers what was inserted (a fingerprint of
 * its source, to tell a user's edit) and what the user removed (never put
 * back).
 *
 * `cell_invalidated` (the agent withdrew a cell, e.g. a heading whose code
 * failed, or a cell it is about to fix) removes the cell when the user has
 * not edited it since it was inserted: leaving it would keep in the notebook
 * something the generation disowned. A cell the user edited is left alone:
 * their work wins.
 */
import type * as nbformat from '@jupyterlab/nbformat';

import type { ICookbookEvent } from './api';

/** The part of a shared cell this module reads (`YBaseCell` fits). */
export interface ICellLike {
  readonly id: string;
  getSource(): string;
  getMetadata(): Partial<Record<string, any>>;
}

/** The part of a shared notebook this module uses (`YNotebook` fits). */
export interface INotebookLike {
  readonly cells: ReadonlyArray<ICellLike>;
  insertCell(index: number, cell: any): unknown;
  deleteCell(index: number): void;
  transact(f: () => void, undoable?: boolean): void;
}

export interface ICookbookTag {
  generation_id: string;
  cell_id: string;
}

/** Where a generation's first cell goes. */
export type InsertionPoint = 'after-active' | 'end';

/** Per generation and target notebook; plain JSON so it persists. */
export interface IInsertionState {
  /** cell_id → fingerprint of the source as inserted. */
  inserted: Record<string, string>;
  /** cell_ids the user removed from the notebook: never inserted again. */
  dismissed: string[];
  /** nbformat id of the cell the first cell goes after; null: the end. */
  anchor: string | null;
}

export function emptyInsertionState(
  anchor: string | null = null
): IInsertionState {
  return { inserted: {}, dismissed: [], anchor };
}

export type InsertOutcome =
  'inserted' | 'replaced' | 'present' | 'dismissed' | 'kept-edited';

export type RemoveOutcome = 'removed' | 'absent' | 'kept-edited';

/** A cheap, stable fingerprint (FNV-1a, 32 bit) of a text. */
export function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${text.length.toString(36)}:${hash.toString(36)}`;
}

export function cookbookTag(
  metadata: Partial<Record<string, any>> | undefined | null
): ICookbookTag | null {
  const tag = metadata?.cookbook;
  if (
    tag &&
    typeof tag === 'object' &&
    typeof tag.generation_id === 'string' &&
    typeof tag.cell_id === 'string'
  ) {
    return { generation_id: tag.generation_id, cell_id: tag.cell_id };
  }
  return null;
}

function tagOf(cell: ICellLike): ICookbookTag | null {
  try {
    return cookbookTag(cell.getMetadata());
  } catch {
    return null;
  }
}

/** Index of a generation's cell in the notebook, or -1. */
export function findCookbookCell(
  nb: INotebookLike,
  generationId: string,
  cellId: string
): number {
  const cells = nb.cells;
  for (let i = 0; i < cells.length; i++) {
    const tag = tagOf(cells[i]);
    if (tag && tag.generation_id === generationId && tag.cell_id === cellId) {
      return i;
    }
  }
  return -1;
}

/** cell_id → index of each of a generation's cells in the notebook. */
export function presentCells(
  nb: INotebookLike,
  generationId: string
): Map<string, number> {
  const found = new Map<string, number>();
  nb.cells.forEach((cell, i) => {
    const tag = tagOf(cell);
    if (tag && tag.generation_id === generationId && !found.has(tag.cell_id)) {
      found.set(tag.cell_id, i);
    }
  });
  return found;
}

/**
 * Where cell `cellId` goes: right after the closest earlier cell of the
 * generation (in the generation's `order`) that is in the notebook, else
 * right before the closest later one, else at the anchor.
 */
export function planPosition(
  nb: INotebookLike,
  generationId: string,
  order: ReadonlyArray<string>,
  cellId: string,
  anchor: string | null
): number {
  const present = presentCells(nb, generationId);
  const at = order.indexOf(cellId);
  if (at >= 0) {
    for (let j = at - 1; j >= 0; j--) {
      const index = present.get(order[j]);
      if (index !== undefined) {
        return index + 1;
      }
    }
    for (let j = at + 1; j < order.length; j++) {
      const index = present.get(order[j]);
      if (index !== undefined) {
        return index;
      }
    }
  } else if (present.size > 0) {
    return Math.max(...present.values()) + 1;
  }
  if (anchor) {
    const index = nb.cells.findIndex(c => c.id === anchor);
    if (index >= 0) {
      return index + 1;
    }
  }
  return nb.cells.length;
}

/**
 * The cell to insert: a copy, with its nbformat id dropped when the notebook
 * already uses it (a fresh one is generated) and its provenance ensured.
 */
export function prepareCell(
  cell: nbformat.ICell,
  nb: INotebookLike,
  tag: ICookbookTag
): nbformat.ICell {
  const copy = JSON.parse(JSON.stringify(cell)) as nbformat.ICell & {
    id?: string;
  };
  if (copy.id && nb.cells.some(c => c.id === copy.id)) {
    delete copy.id;
  }
  const metadata = (copy.metadata ?? {}) as Record<string, any>;
  metadata.cookbook = { ...(metadata.cookbook ?? {}), ...tag };
  copy.metadata = metadata as nbformat.ICell['metadata'];
  if (copy.cell_type === 'code') {
    const code = copy as nbformat.ICodeCell;
    code.outputs = code.outputs ?? [];
    code.execution_count = code.execution_count ?? null;
  }
  return copy;
}

function sourceText(source: nbformat.MultilineString | undefined): string {
  return Array.isArray(source) ? source.join('') : (source ?? '');
}

/** Put (or update) a validated cell in the notebook. */
export function applyValidated(
  nb: INotebookLike,
  state: IInsertionState,
  generationId: string,
  cellId: string,
  cell: nbformat.ICell,
  order: ReadonlyArray<string>
): InsertOutcome {
  const tag = { generation_id: generationId, cell_id: cellId };
  const source = sourceText(cell.source);
  const index = findCookbookCell(nb, generationId, cellId);
  if (index >= 0) {
    const existing = nb.cells[index];
    const current = fingerprint(existing.getSource());
    if (
      state.inserted[cellId] !== undefined &&
      current !== state.inserted[cellId]
    ) {
      return 'kept-edited';
    }
    if (
      state.inserted[cellId] === undefined &&
      current !== fingerprint(source)
    ) {
      // Tagged by us but not by this browser's record (e.g. saved by a
      // collaborator, then edited): treat as the user's.
      return 'kept-edited';
    }
    const wanted = prepareCell(cell, nb, tag);
    const have = (existing as any).toJSON ? (existing as any).toJSON() : null;
    if (have && sameContent(have, wanted)) {
      state.inserted[cellId] = fingerprint(source);
      return 'present';
    }
    nb.transact(() => {
      nb.deleteCell(index);
      nb.insertCell(index, { ...wanted, id: existing.id });
    });
    state.inserted[cellId] = fingerprint(source);
    return 'replaced';
  }
  if (state.dismissed.includes(cellId)) {
    return 'dismissed';
  }
  const position = planPosition(nb, generationId, order, cellId, state.anchor);
  nb.insertCell(position, prepareCell(cell, nb, tag));
  state.inserted[cellId] = fingerprint(source);
  return 'inserted';
}

function sameContent(a: any, b: any): boolean {
  if (
    a.cell_type !== b.cell_type ||
    sourceText(a.source) !== sourceText(b.source)
  ) {
    return false;
  }
  if (a.cell_type === 'code') {
    return (
      JSON.stringify(a.outputs ?? []) === JSON.stringify(b.outputs ?? []) &&
      (a.execution_count ?? null) === (b.execution_count ?? null)
    );
  }
  return true;
}

/** Take a withdrawn cell out of the notebook, unless the user edited it. */
export function applyInvalidated(
  nb: INotebookLike,
  state: IInsertionState,
  generationId: string,
  cellId: string
): RemoveOutcome {
  const index = findCookbookCell(nb, generationId, cellId);
  const inserted = state.inserted[cellId];
  if (index < 0) {
    delete state.inserted[cellId];
    return 'absent';
  }
  if (
    inserted === undefined ||
    fingerprint(nb.cells[index].getSource()) !== inserted
  ) {
    return 'kept-edited';
  }
  // Forget it first, so the removal is not mistaken for the user's.
  delete state.inserted[cellId];
  nb.deleteCell(index);
  return 'removed';
}

/**
 * After the notebook changed: cells we inserted that are gone were removed by
 * the user (dismissed); dismissed cells that came back (undo, paste) are not.
 * Call with the sets of the generation's cell ids before and after.
 */
export function trackDismissals(
  state: IInsertionState,
  before: ReadonlySet<string>,
  after: ReadonlySet<string>
): boolean {
  let changed = false;
  for (const cellId of before) {
    if (!after.has(cellId) && state.inserted[cellId] !== undefined) {
      if (!state.dismissed.includes(cellId)) {
        state.dismissed.push(cellId);
        changed = true;
      }
    }
  }
  for (const cellId of after) {
    const i = state.dismissed.indexOf(cellId);
    if (i >= 0) {
      state.dismissed.splice(i, 1);
      changed = true;
    }
  }
  return changed;
}

/**
 * The generation's validated cells, in the generation's order, maintained
 * from `cell_validated` (`index`: validated cells before it) and
 * `cell_invalidated` events.
 */
export class ValidatedCells {
  constructor(initial?: Array<{ cellId: string; cell: nbformat.ICell }>) {
    for (const item of initial ?? []) {
      this._order.push(item.cellId);
      this._cells.set(item.cellId, item.cell);
    }
  }

  get order(): ReadonlyArray<string> {
    return this._order;
  }

  get size(): number {
    return this._order.length;
  }

  get(cellId: string): nbformat.ICell | undefined {
    return this._cells.get(cellId);
  }

  has(cellId: string): boolean {
    return this._cells.has(cellId);
  }

  validated(cellId: string, index: number, cell: nbformat.ICell): void {
    this._remove(cellId);
    const at = Math.max(
      0,
      Math.min(
        Number.isFinite(index) ? index : this._order.length,
        this._order.length
      )
    );
    this._order.splice(at, 0, cellId);
    this._cells.set(cellId, cell);
  }

  invalidated(cellId: string): void {
    this._remove(cellId);
  }

  entries(): Array<{ cellId: string; cell: nbformat.ICell }> {
    return this._order.map(cellId => ({
      cellId,
      cell: this._cells.get(cellId)!
    }));
  }

  private _remove(cellId: string): void {
    const i = this._order.indexOf(cellId);
    if (i >= 0) {
      this._order.splice(i, 1);
    }
    this._cells.delete(cellId);
  }

  private _order: string[] = [];
  private _cells = new Map<string, nbformat.ICell>();
}

/** What a batch of events did to a generation's validated cells. */
export interface ICellChanges {
  /** The cell ids validated or withdrawn. */
  touched: Set<string>;
  /** Server time (epoch seconds) of each cell's `cell_validated` event. */
  validatedAt: Map<string, number>;
}

/**
 * Apply `cell_validated` and `cell_invalidated` events to a generation's
 * cells: the one replay of a generation's cells, for the live stream and for
 * a replay of its whole log alike.
 */
export function applyCellEvents(
  cells: ValidatedCells,
  events: Iterable<ICookbookEvent>
): ICellChanges {
  const touched = new Set<string>();
  const validatedAt = new Map<string, number>();
  for (const event of events) {
    const data = event.data ?? {};
    if (event.type === 'cell_validated' && data.cell && data.cell_id) {
      const cellId = String(data.cell_id);
      cells.validated(cellId, Number(data.index), data.cell);
      touched.add(cellId);
      validatedAt.set(cellId, event.ts);
    } else if (event.type === 'cell_invalidated' && data.cell_id) {
      const cellId = String(data.cell_id);
      cells.invalidated(cellId);
      touched.add(cellId);
    }
  }
  return { touched, validatedAt };
}

/**
 * Bring the notebook in line with the generation's validated cells (for the
 * ids in `cellIds`, or all): insert the missing, take out the withdrawn.
 * Idempotent: replaying a stream twice changes nothing the second time.
 */
export function reconcile(
  nb: INotebookLike,
  state: IInsertionState,
  generationId: string,
  cells: ValidatedCells,
  cellIds?: Iterable<string>
): { inserted: string[]; removed: string[] } {
  const inserted: string[] = [];
  const removed: string[] = [];
  const ids = cellIds
    ? Array.from(new Set(cellIds))
    : [...cells.order, ...Object.keys(state.inserted)];
  // Notebook order first, so each cell finds its predecessor already placed.
  const ordered = ids
    .filter(id => cells.has(id))
    .sort((a, b) => cells.order.indexOf(a) - cells.order.indexOf(b));
  for (const cellId of ids) {
    if (
      !cells.has(cellId) &&
      applyInvalidated(nb, state, generationId, cellId) === 'removed'
    ) {
      removed.push(cellId);
    }
  }
  for (const cellId of ordered) {
    const outcome = applyValidated(
      nb,
      state,
      generationId,
      cellId,
      cells.get(cellId)!,
      cells.order
    );
    if (outcome === 'inserted' || outcome === 'replaced') {
      inserted.push(cellId);
    }
  }
  return { inserted, removed };
}
