/**
 * Puts each generation's validated cells into the notebook it targets, even
 * when the user switched tabs. When that notebook is closed, the cells wait
 * (in the generation's record) until it is reopened and the user chooses to
 * insert them; after a reload, what the reload lost is put back.
 */
import { Signal } from '@lumino/signaling';

import { errorMessage, isTerminalStatus } from './api';
import { DismissalTracker } from './dismissals';
import type { Generation } from './generation';
import {
  presentCells,
  reconcile,
  ReplaceDecision,
  waitingReplacements
} from './notebook';
import type { INotebookHandle, INotebookHost } from './notebookHost';
import type { IPendingOffer } from './tokens';

/**
 * What a cell's badge needs when the server's metadata lacks it: the run's
 * time, and (for a provider that uses a model) who wrote it.
 */
export function provenanceDefaults(gen: Generation): Record<string, unknown> {
  const p = gen.progress;
  const defaults: Record<string, unknown> = {};
  if (p.startedAt !== undefined) {
    defaults.generated_at = p.startedAt;
  }
  const model =
    p.usesModel === true ||
    (p.usesModel === undefined && !!p.provider && p.provider !== 'offline');
  if (model && p.provider) {
    defaults.provider = p.provider;
    if (p.model) {
      defaults.model = p.model;
    }
  }
  return defaults;
}

export interface ICellInserterOptions {
  notebooks: INotebookHost;
  /** The generations started in this browser. */
  generations: () => Iterable<Generation>;
  /** Something about these generations changed (their records are to be saved). */
  onChanged: (changed: Generation[]) => void;
  /** Cells of a generation went into its notebook. */
  onInserted?: (generation: Generation, cellIds: string[]) => void;
}

export class CellInserter {
  constructor(options: ICellInserterOptions) {
    this._options = options;
    this._notebooks = options.notebooks;
    this._dismissals = new DismissalTracker<Generation>({
      notebooks: options.notebooks,
      generationsIn: path => this._at(path),
      onDismissed: changed => this._options.onChanged(changed)
    });
    this._notebooks.opened.connect(this._onOpened, this);
    this._notebooks.closed.connect(this._onClosed, this);
    this._notebooks.renamed.connect(this._onRenamed, this);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start noticing the user's deletions in a notebook generations target. */
  watch(handle: INotebookHandle): void {
    this._dismissals.watch(handle);
  }

  /**
   * After events touched `cellIds`: bring the target notebook in line, or
   * keep the cells while it is closed. Returns the cells inserted.
   */
  deliver(gen: Generation, cellIds: Iterable<string>): string[] {
    const handle = this._notebooks.find(gen.path);
    if (handle && !gen.record.held) {
      return this._reconcile(gen, handle, cellIds);
    }
    // The target is closed: keep the cells until it is back.
    if (!handle) {
      gen.record.held =
        gen.record.held || this._closedTargets.has(gen.record.path);
    }
    gen.record.cells = gen.cells.entries();
    return [];
  }

  /** Cells that waited for a closed notebook, for the generations given. */
  offers(generations: Iterable<Generation>): IPendingOffer[] {
    const offers: IPendingOffer[] = [];
    for (const gen of generations) {
      if (!gen.record.held) {
        continue;
      }
      const handle = this._notebooks.find(gen.path);
      const missing = handle
        ? this._missing(gen, handle)
        : gen.cells.order.filter(
            id => !gen.record.insertion.dismissed.includes(id)
          );
      if (missing.length > 0) {
        offers.push({
          generationId: gen.id,
          path: gen.path,
          count: missing.length,
          open: handle !== null
        });
      }
    }
    return offers;
  }

  /** Insert the cells that waited for the (reopened) notebook; returns how many. */
  accept(gen: Generation, handle: INotebookHandle): number {
    gen.record.held = false;
    const inserted = this._reconcile(gen, handle);
    this.settle(gen);
    return inserted.length;
  }

  /** The user does not want the cells that waited: never insert them. */
  discard(gen: Generation): void {
    const handle = this._notebooks.find(gen.path);
    const missing = handle
      ? this._missing(gen, handle)
      : gen.cells.order.slice();
    gen.record.insertion.dismissed.push(...missing);
    gen.record.held = false;
    this.settle(gen);
  }

  /**
   * The user's answer about a follow-up cell that would replace a cell they
   * changed: replace it, add the new one below the rest, or skip it.
   */
  answer(
    gen: Generation,
    handle: INotebookHandle,
    cellId: string,
    decision: ReplaceDecision
  ): string[] {
    const insertion = gen.record.insertion;
    insertion.decisions = {
      ...(insertion.decisions ?? {}),
      [cellId]: decision
    };
    if (decision === 'skip' && !insertion.dismissed.includes(cellId)) {
      insertion.dismissed.push(cellId);
    }
    const inserted = this._reconcile(gen, handle, [cellId]);
    this.settle(gen);
    return inserted;
  }

  /** Mark the generation settled when it is terminal and nothing waits. */
  settle(gen: Generation): void {
    const record = gen.record;
    if (!isTerminalStatus(record.status) || record.held) {
      return;
    }
    const handle = record.path ? this._notebooks.find(record.path) : null;
    if (handle) {
      if (this._missing(gen, handle).length === 0) {
        record.settled = true;
        record.cells = null;
      }
    } else if (!record.cells || record.cells.length === 0) {
      record.settled = true;
    }
  }

  /** A notebook generations target is open (e.g. it was before the page loaded). */
  notebookOpened(path: string): void {
    this._onOpened(this._notebooks, path);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._dismissals.dispose();
    Signal.clearData(this);
  }

  private _reconcile(
    gen: Generation,
    handle: INotebookHandle,
    cellIds?: Iterable<string>
  ): string[] {
    let inserted: string[];
    try {
      inserted = reconcile(
        handle.shared,
        gen.record.insertion,
        gen.id,
        gen.cells,
        cellIds,
        provenanceDefaults(gen)
      ).inserted;
      gen.present = new Set(presentCells(handle.shared, gen.id).keys());
      gen.pendingReplacements = waitingReplacements(
        handle.shared,
        gen.record.insertion,
        gen.id,
        gen.cells
      ).map(w => ({
        ...w,
        ...(gen.progress.cellTitles[w.cellId]
          ? { title: gen.progress.cellTitles[w.cellId] }
          : {})
      }));
      gen.record.cells = null;
    } catch (error) {
      gen.error = errorMessage(error);
      gen.record.cells = gen.cells.entries();
      return [];
    }
    if (inserted.length > 0) {
      this._options.onInserted?.(gen, inserted);
    }
    return inserted;
  }

  private _missing(gen: Generation, handle: INotebookHandle): string[] {
    const present = presentCells(handle.shared, gen.id);
    return gen.cells.order.filter(
      id => !present.has(id) && !gen.record.insertion.dismissed.includes(id)
    );
  }

  private _at(path: string): Generation[] {
    return Array.from(this._options.generations()).filter(
      gen => gen.path === path
    );
  }

  private _onOpened(_: INotebookHost, path: string): void {
    this._closedTargets.delete(path);
    const handle = this._notebooks.find(path);
    if (!handle) {
      return;
    }
    const changed: Generation[] = [];
    for (const gen of this._at(path)) {
      this.watch(handle);
      // What is there now is the baseline for noticing the user's deletions.
      gen.present = new Set(presentCells(handle.shared, gen.id).keys());
      if (gen.record.held) {
        // Asked on reopen: the panel shows the offer.
        changed.push(gen);
        continue;
      }
      if (!gen.record.settled && gen.cells.size > 0) {
        // Back after a page reload: put back what the reload lost. Only
        // insertions: the replay may not have reached later events yet.
        this._reconcile(gen, handle, gen.cells.order);
        this.settle(gen);
        changed.push(gen);
      }
    }
    if (changed.length > 0) {
      this._options.onChanged(changed);
    }
  }

  private _onClosed(_: INotebookHost, path: string): void {
    this._closedTargets.add(path);
    const changed: Generation[] = [];
    for (const gen of this._at(path)) {
      if (!gen.record.settled) {
        gen.record.held = true;
        gen.record.cells = gen.cells.entries();
        changed.push(gen);
      }
    }
    if (changed.length > 0) {
      this._options.onChanged(changed);
    }
  }

  private _onRenamed(
    _: INotebookHost,
    args: { oldPath: string; newPath: string }
  ): void {
    const changed = this._at(args.oldPath);
    for (const gen of changed) {
      gen.record.path = args.newPath;
    }
    if (changed.length > 0) {
      this._options.onChanged(changed);
    }
  }

  private _options: ICellInserterOptions;
  private _notebooks: INotebookHost;
  private _dismissals: DismissalTracker<Generation>;
  /** Targets the user closed while their generation could still deliver cells. */
  private _closedTargets = new Set<string>();
  private _disposed = false;
}
