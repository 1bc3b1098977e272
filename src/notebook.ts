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
 *
 * A generation is one unit: its cells sit together at its anchor (the end,
 * or below the active cell but never inside another run's cells); the first
 * one takes the place of a new notebook's untouched empty cell, or of the
 * previous run's cells when the user chose to replace it; a follow-up's cell
 * that `replaces` a notebook cell takes its place (asking first when the
 * user wrote or changed that cell); "remove this generation's cells" is one
 * step in the notebook's undo history.
 *
 * Inserted code cells are trusted, as a cell the user runs is: they ran in
 * the user's own kernel. Without it a trusted notebook would turn "Not
 * Trusted" (JupyterLab trusts a cell from its `trusted` metadata).
 */
import type * as nbformat from '@jupyterlab/nbformat';

import type { ICookbookEvent } from './api';

/** The part of a shared cell this module reads (`YBaseCell` fits). */
export interface ICellLike {
  readonly id: string;
  readonly cell_type?: string;
  getSource(): string;
  getMetadata(): Partial<Record<string, any>>;
  toJSON?(): any;
}

/** The part of a shared notebook this module uses (`YNotebook` fits). */
export interface INotebookLike {
  readonly cells: ReadonlyArray<ICellLike>;
  insertCell(index: number, cell: any): unknown;
  deleteCell(index: number): void;
  transact(f: () => void, undoable?: boolean): void;
  /** The notebook's undo history (YNotebook's Yjs undo manager). */
  readonly undoManager?: { stopCapturing(): void } | null;
}

export interface ICookbookTag {
  generation_id: string;
  cell_id: string;
}

/** Where a generation's first cell goes. */
export type InsertionPoint = 'after-active' | 'end';

/** The user's answer about a follow-up cell that would replace a cell they edited. */
export type ReplaceDecision = 'replace' | 'add' | 'skip';

/** The previous run's cells a new generation takes the place of. */
export interface IReplacedRun {
  /** The generations whose cells go (a run and its follow-ups). */
  generations: string[];
  /** nbformat ids of their cells the user edited: those stay. */
  keep: string[];
}

/** Per generation and target notebook; plain JSON so it persists. */
export interface IInsertionState {
  /** cell_id → fingerprint of the source as inserted. */
  inserted: Record<string, string>;
  /** cell_ids the user removed from the notebook: never inserted again. */
  dismissed: string[];
  /** nbformat id of the cell the first cell goes after; null: the end. */
  anchor: string | null;
  /** nbformat id of a new notebook's untouched empty cell the first cell replaces. */
  blank?: string | null;
  /** The previous run the first cell replaces. */
  replaces?: IReplacedRun | null;
  /** A follow-up: fingerprints of the notebook cells as sent (to notice later edits). */
  sent?: Record<string, string>;
  /** The user's answers about replacing their edited cells, by cell_id. */
  decisions?: Record<string, ReplaceDecision>;
}

export function emptyInsertionState(
  anchor: string | null = null
): IInsertionState {
  return { inserted: {}, dismissed: [], anchor };
}

export type InsertOutcome =
  | 'inserted'
  | 'replaced'
  | 'present'
  | 'dismissed'
  | 'kept-edited'
  /** A follow-up cell waits for the user's answer before it replaces their cell. */
  | 'pending'
  /** The user chose to keep their cell and not add this one. */
  | 'skipped';

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
 * already uses it (a fresh one is generated), its provenance ensured, and a
 * code cell trusted (it ran in the user's kernel; see the module's note).
 */
export function prepareCell(
  cell: nbformat.ICell,
  nb: INotebookLike,
  tag: ICookbookTag,
  defaults?: Record<string, unknown>
): nbformat.ICell {
  const copy = JSON.parse(JSON.stringify(cell)) as nbformat.ICell & {
    id?: string;
  };
  if (copy.id && nb.cells.some(c => c.id === copy.id)) {
    delete copy.id;
  }
  const metadata = (copy.metadata ?? {}) as Record<string, any>;
  metadata.cookbook = {
    ...(defaults ?? {}),
    ...(metadata.cookbook ?? {}),
    ...tag
  };
  if (copy.cell_type === 'code') {
    metadata.trusted = true;
  }
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

function cellJSON(cell: ICellLike): any {
  try {
    return cell.toJSON ? cell.toJSON() : null;
  } catch {
    return null;
  }
}

/** A cell nobody wrote in: empty, without outputs, not Cookbook's. */
export function isBlankCell(cell: ICellLike): boolean {
  if (tagOf(cell) || cell.getSource().trim() !== '') {
    return false;
  }
  const json = cellJSON(cell);
  return !json || !Array.isArray(json.outputs) || json.outputs.length === 0;
}

/** The nbformat id of a new notebook's untouched empty cell, if that is all it has. */
export function blankCellId(nb: INotebookLike): string | null {
  return nb.cells.length === 1 && isBlankCell(nb.cells[0])
    ? nb.cells[0].id
    : null;
}

/**
 * Where a generation placed "below the active cell" starts: below that cell,
 * or, when it is one of a run's cells, below that run's last cell, so two
 * runs never interleave.
 */
export function unitAnchor(
  nb: INotebookLike,
  activeId: string | null
): string | null {
  if (!activeId) {
    return null;
  }
  const cells = nb.cells;
  const index = cells.findIndex(c => c.id === activeId);
  if (index < 0) {
    return null;
  }
  const tag = tagOf(cells[index]);
  if (!tag) {
    return activeId;
  }
  let last = index;
  cells.forEach((cell, i) => {
    if (tagOf(cell)?.generation_id === tag.generation_id && i > last) {
      last = i;
    }
  });
  return cells[last].id;
}

/** The nbformat id of the last cell of any of these generations (null: none is there). */
export function lastCellOf(
  nb: INotebookLike,
  generationIds: ReadonlyArray<string>
): string | null {
  const ids = new Set(generationIds);
  const cells = nb.cells;
  for (let i = cells.length - 1; i >= 0; i--) {
    const tag = tagOf(cells[i]);
    if (tag && ids.has(tag.generation_id)) {
      return cells[i].id;
    }
  }
  return null;
}

/** One of a generation's cells as found in a notebook. */
export interface IFoundCell {
  generationId: string;
  cellId: string;
  /** Its nbformat id. */
  id: string;
  source: string;
}

/** The cells of these generations in the notebook, in notebook order. */
export function cellsOf(
  nb: INotebookLike,
  generationIds: ReadonlyArray<string>
): IFoundCell[] {
  const ids = new Set(generationIds);
  const found: IFoundCell[] = [];
  for (const cell of nb.cells) {
    const tag = tagOf(cell);
    if (tag && ids.has(tag.generation_id)) {
      found.push({
        generationId: tag.generation_id,
        cellId: tag.cell_id,
        id: cell.id,
        source: cell.getSource()
      });
    }
  }
  return found;
}

/**
 * Take the cells of these generations out of the notebook, all at once: one
 * step in the notebook's undo history. `keep` (nbformat ids) stay.
 */
export function removeCells(
  nb: INotebookLike,
  generationIds: ReadonlyArray<string>,
  keep: ReadonlyArray<string> = []
): IFoundCell[] {
  const ids = new Set(generationIds);
  const kept = new Set(keep);
  const doomed: number[] = [];
  const removed: IFoundCell[] = [];
  nb.cells.forEach((cell, i) => {
    const tag = tagOf(cell);
    if (tag && ids.has(tag.generation_id) && !kept.has(cell.id)) {
      doomed.push(i);
      removed.push({
        generationId: tag.generation_id,
        cellId: tag.cell_id,
        id: cell.id,
        source: cell.getSource()
      });
    }
  });
  if (doomed.length > 0) {
    // Its own undo step: not merged with an insertion made just before.
    nb.undoManager?.stopCapturing();
    nb.transact(() => {
      for (let j = doomed.length - 1; j >= 0; j--) {
        nb.deleteCell(doomed[j]);
      }
    });
    nb.undoManager?.stopCapturing();
  }
  return removed;
}

/**
 * A cell to insert again: no execution count (it was another kernel's), and
 * either no outputs or outputs marked as the original run's.
 */
export function cleanCell(
  cell: nbformat.ICell,
  outputs: 'keep' | 'clear',
  from: { generationId: string; generatedAt?: string | number | null }
): nbformat.ICell {
  const copy = JSON.parse(JSON.stringify(cell)) as nbformat.ICell;
  if (copy.cell_type === 'code') {
    const code = copy as nbformat.ICodeCell;
    code.execution_count = null;
    if (outputs === 'clear') {
      code.outputs = [];
    } else {
      code.outputs = (code.outputs ?? []).map(output =>
        'execution_count' in output
          ? { ...output, execution_count: null }
          : output
      ) as nbformat.IOutput[];
      const metadata = (code.metadata ?? {}) as Record<string, any>;
      if (code.outputs.length > 0) {
        metadata.cookbook = {
          ...(metadata.cookbook ?? {}),
          outputs_from: {
            generation_id: from.generationId,
            ...(from.generatedAt ? { generated_at: from.generatedAt } : {})
          }
        };
      }
      code.metadata = metadata as nbformat.ICodeCell['metadata'];
    }
  }
  return copy;
}

function outputText(output: any): string {
  switch (output?.output_type) {
    case 'stream':
      return sourceText(output.text);
    case 'error':
      return `${output.ename}: ${output.evalue}`;
    case 'execute_result':
    case 'display_data': {
      const data = output.data ?? {};
      if (data['text/plain'] !== undefined) {
        return sourceText(data['text/plain']);
      }
      const kinds = Object.keys(data);
      return kinds.length ? `[${kinds.join(', ')}]` : '';
    }
    default:
      return '';
  }
}

/** The most output text a follow-up is told about, per cell. */
export const MAX_OUTPUT_TEXT = 1500;

/** A cell's outputs as short text (what a follow-up's agent reads). */
export function outputsText(cell: ICellLike, limit = MAX_OUTPUT_TEXT): string {
  const json = cellJSON(cell);
  const outputs: any[] = Array.isArray(json?.outputs) ? json.outputs : [];
  const text = outputs.map(outputText).filter(Boolean).join('\n').trim();
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/**
 * Whether a follow-up's replacement would overwrite the user's work: the
 * server says the cell was the user's (or changed by them), or it changed
 * since the follow-up started.
 */
export function replacesEdited(
  nb: INotebookLike,
  state: IInsertionState,
  replacement: { target: string; edited: boolean }
): boolean {
  if (replacement.edited) {
    return true;
  }
  const cell = nb.cells.find(c => c.id === replacement.target);
  const sent = state.sent?.[replacement.target];
  return (
    cell !== undefined &&
    sent !== undefined &&
    fingerprint(cell.getSource()) !== sent
  );
}

/** A follow-up cell that waits for the user's answer before it replaces theirs. */
export interface IWaitingReplacement {
  cellId: string;
  target: string;
  oldSource: string;
  newSource: string;
}

/** The follow-up cells waiting for the user's answer, in the generation's order. */
export function waitingReplacements(
  nb: INotebookLike,
  state: IInsertionState,
  generationId: string,
  cells: ValidatedCells
): IWaitingReplacement[] {
  const waiting: IWaitingReplacement[] = [];
  for (const cellId of cells.order) {
    const replacement = cells.replacement(cellId);
    if (
      !replacement ||
      state.decisions?.[cellId] ||
      state.dismissed.includes(cellId) ||
      findCookbookCell(nb, generationId, cellId) >= 0
    ) {
      continue;
    }
    const target = nb.cells.find(c => c.id === replacement.target);
    if (target && replacesEdited(nb, state, replacement)) {
      waiting.push({
        cellId,
        target: replacement.target,
        oldSource: target.getSource(),
        newSource: sourceText(cells.get(cellId)!.source)
      });
    }
  }
  return waiting;
}

/** Put (or update) a validated cell in the notebook. */
export function applyValidated(
  nb: INotebookLike,
  state: IInsertionState,
  generationId: string,
  cellId: string,
  cell: nbformat.ICell,
  order: ReadonlyArray<string>,
  replacement?: { target: string; edited: boolean } | null,
  defaults?: Record<string, unknown>
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
    const wanted = prepareCell(cell, nb, tag, defaults);
    const have = cellJSON(existing);
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
  const decision = state.decisions?.[cellId];
  const target = replacement
    ? nb.cells.findIndex(c => c.id === replacement.target)
    : -1;
  if (replacement && target >= 0 && decision !== 'add') {
    if (decision === 'skip') {
      return 'skipped';
    }
    if (decision !== 'replace' && replacesEdited(nb, state, replacement)) {
      return 'pending';
    }
    // In its place, under its nbformat id: what pointed at it still does.
    const wanted = {
      ...prepareCell(cell, nb, tag, defaults),
      id: replacement.target
    };
    nb.transact(() => {
      nb.deleteCell(target);
      nb.insertCell(target, wanted);
    });
    state.inserted[cellId] = fingerprint(source);
    return 'replaced';
  }
  let position = planPosition(nb, generationId, order, cellId, state.anchor);
  const prepared = prepareCell(cell, nb, tag, defaults);
  const doomed: number[] = [];
  if (state.replaces) {
    // The first cell of a run that replaces the previous one: the previous
    // run's cells go, and this one takes the place of the first of them.
    const ids = new Set(state.replaces.generations);
    const keep = new Set(state.replaces.keep);
    nb.cells.forEach((c, i) => {
      const t = tagOf(c);
      if (t && ids.has(t.generation_id) && !keep.has(c.id)) {
        doomed.push(i);
      }
    });
    if (doomed.length > 0) {
      position = doomed[0];
    }
    state.replaces = null;
  } else if (state.blank) {
    const blank = nb.cells.findIndex(c => c.id === state.blank);
    if (blank >= 0 && isBlankCell(nb.cells[blank])) {
      doomed.push(blank);
      if (blank < position) {
        position--;
      }
    }
  }
  state.blank = null;
  if (doomed.length > 0) {
    nb.transact(() => {
      for (let j = doomed.length - 1; j >= 0; j--) {
        nb.deleteCell(doomed[j]);
      }
      nb.insertCell(Math.min(position, nb.cells.length), prepared);
    });
  } else {
    nb.insertCell(position, prepared);
  }
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
/** A validated cell as a generation's record keeps it. */
export interface IValidatedEntry {
  cellId: string;
  cell: nbformat.ICell;
  /** A follow-up's cell that takes the place of a notebook cell. */
  replaces?: { target: string; edited: boolean };
}

export class ValidatedCells {
  constructor(initial?: IValidatedEntry[]) {
    for (const item of initial ?? []) {
      this._order.push(item.cellId);
      this._cells.set(item.cellId, item.cell);
      if (item.replaces) {
        this._replaces.set(item.cellId, item.replaces);
      }
    }
  }

  /** What notebook cell `cellId` replaces, if it is a follow-up's replacement. */
  replacement(cellId: string): { target: string; edited: boolean } | undefined {
    return this._replaces.get(cellId);
  }

  /** The cells in order, without the replacements (which sit where their targets were). */
  additions(): string[] {
    return this._order.filter(id => !this._replaces.has(id));
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

  validated(
    cellId: string,
    index: number,
    cell: nbformat.ICell,
    replaces?: { target: string; edited: boolean }
  ): void {
    this._remove(cellId);
    if (replaces) {
      this._replaces.set(cellId, replaces);
    }
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

  entries(): IValidatedEntry[] {
    return this._order.map(cellId => {
      const replaces = this._replaces.get(cellId);
      return {
        cellId,
        cell: this._cells.get(cellId)!,
        ...(replaces ? { replaces } : {})
      };
    });
  }

  /** A copy with each cell transformed (e.g. cleaned to insert again). */
  map(f: (cell: nbformat.ICell) => nbformat.ICell): ValidatedCells {
    return new ValidatedCells(
      this.entries().map(e => ({ ...e, cell: f(e.cell) }))
    );
  }

  private _remove(cellId: string): void {
    const i = this._order.indexOf(cellId);
    if (i >= 0) {
      this._order.splice(i, 1);
    }
    this._cells.delete(cellId);
    this._replaces.delete(cellId);
  }

  private _order: string[] = [];
  private _cells = new Map<string, nbformat.ICell>();
  private _replaces = new Map<string, { target: string; edited: boolean }>();
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
      const replaces =
        typeof data.replaces === 'string' && data.replaces
          ? { target: data.replaces, edited: data.replaces_edited === true }
          : undefined;
      cells.validated(cellId, Number(data.index), data.cell, replaces);
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
  cellIds?: Iterable<string>,
  defaults?: Record<string, unknown>
): { inserted: string[]; removed: string[]; pending: string[] } {
  const inserted: string[] = [];
  const removed: string[] = [];
  const pending: string[] = [];
  const additions = cells.additions();
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
      additions,
      cells.replacement(cellId),
      defaults
    );
    if (outcome === 'inserted' || outcome === 'replaced') {
      inserted.push(cellId);
    } else if (outcome === 'pending') {
      pending.push(cellId);
    }
  }
  return { inserted, removed, pending };
}

/** What the server takes of a follow-up's notebook (`cookbook_ext/api_models.py`). */
export const SNAPSHOT_LIMITS = {
  cells: 60,
  /** Sources and outputs together, UTF-8 bytes (under the server's 200 kB). */
  bytes: 190_000,
  /** Per cell, characters. */
  source: 20_000
};

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * The cells a follow-up sends, within the server's limits: all of them when
 * they fit; else the thread's own cells first, then the user's cells nearest
 * to them, in notebook order. Long sources are cut (the agent is told).
 */
export function boundSnapshot<
  T extends { source: string; outputs_text: string }
>(cells: T[], thread: ReadonlySet<number>, limits = SNAPSHOT_LIMITS): T[] {
  const clipped = cells.map(cell =>
    cell.source.length > limits.source
      ? { ...cell, source: `${cell.source.slice(0, limits.source - 1)}…` }
      : cell
  );
  const size = (cell: T) =>
    utf8Length(cell.source) + utf8Length(cell.outputs_text);
  const anchors = Array.from(thread).sort((a, b) => a - b);
  const distance = (i: number) =>
    anchors.length === 0
      ? clipped.length - i // no thread there: the last cells matter most
      : Math.min(...anchors.map(a => Math.abs(a - i)));
  const order = clipped
    .map((_, i) => i)
    .sort(
      (a, b) =>
        Number(thread.has(b)) - Number(thread.has(a)) ||
        distance(a) - distance(b) ||
        a - b
    );
  const kept = new Set<number>();
  let bytes = 0;
  for (const i of order) {
    const cost = size(clipped[i]);
    if (kept.size >= limits.cells || bytes + cost > limits.bytes) {
      continue;
    }
    kept.add(i);
    bytes += cost;
  }
  return clipped.filter((_, i) => kept.has(i));
}
