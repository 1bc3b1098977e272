/**
 * Runs generations from the browser's side: starts them, follows each one's
 * event stream (resuming after network failures and page reloads), keeps the
 * progress view's state, and puts validated cells into the notebook each
 * generation targets, even when the user switched tabs. When the target is
 * closed, validated cells wait (persisted in localStorage, and always on the
 * server) until the user reopens it and chooses to insert or download them.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import { ISignal, Signal } from '@lumino/signaling';

import {
  CookbookAPI,
  CookbookAPIError,
  errorMessage,
  ICookbookEvent,
  IGenerationRequest
} from './api';
import { EventStream, IBackoff, StreamState } from './events';
import {
  emptyInsertionState,
  IInsertionState,
  InsertionPoint,
  presentCells,
  reconcile,
  trackDismissals,
  ValidatedCells
} from './notebook';
import {
  initialProgress,
  IProgressState,
  isTerminalStatus,
  reduceAll
} from './progress';
import type { INotebookHandle, INotebookHost } from './tracker';

export const STORAGE_KEY = 'cookbook-ext:generations:v1';
/** Records kept in the browser; older settled ones are forgotten (the server keeps history). */
export const MAX_RECORDS = 30;

/** What the browser remembers about a generation it started. */
export interface IGenerationRecord {
  id: string;
  /** The target notebook's path. */
  path: string;
  prompt: string;
  createdAt: number;
  /** Last status seen. */
  status: string;
  insertion: IInsertionState;
  /** The user closed the target while cells could still arrive: ask before inserting. */
  held: boolean;
  /** Validated cells, kept while the target is closed (null when not needed). */
  cells: Array<{ cellId: string; cell: nbformat.ICell }> | null;
  /** Terminal and every validated cell accounted for: nothing left to do. */
  settled: boolean;
}

/** A key-value store (`window.localStorage` fits). */
export interface IKeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Cells waiting for a closed (now reopened) notebook: the panel offers to insert them. */
export interface IPendingOffer {
  generationId: string;
  path: string;
  count: number;
  /** Whether the target notebook is open (cells can go in now). */
  open: boolean;
}

/** The live view of one generation. */
export class Generation {
  constructor(record: IGenerationRecord) {
    this.record = record;
    if (record.cells) {
      this.cells = new ValidatedCells(record.cells);
    }
  }

  get id(): string {
    return this.record.id;
  }

  readonly record: IGenerationRecord;
  progress: IProgressState = initialProgress();
  cells = new ValidatedCells();
  streamState: StreamState = 'idle';
  /** A problem the user should see (stream broke, insertion failed). */
  error: string | null = null;
  stream: EventStream | null = null;
  /** Cell ids of this generation present in the target at the last look. */
  present = new Set<string>();
  /** Browser time minus server time, seconds (for the elapsed clock). */
  clockOffset: number | null = null;
  cancelling = false;
  /** Events handled, for views that replay (bench, tests). */
  eventCount = 0;
}

export interface IGenerationManagerOptions {
  api: CookbookAPI;
  host: INotebookHost;
  storage?: IKeyValueStore | null;
  /** Where a generation's first cell goes. */
  insertionPoint?: () => InsertionPoint;
  /** Long-poll timeout, seconds. */
  pollTimeout?: number;
  /** Retry delays after network failures. */
  backoff?: IBackoff;
}

export interface IInsertionMetric {
  generationId: string;
  cellId: string;
  /** Server time the event was emitted, epoch seconds. */
  ts: number;
  /** Browser time the event reached the manager, epoch ms. */
  receivedAt: number;
  /** Browser time the cell was in the notebook model, epoch ms. */
  insertedAt: number;
}

export class GenerationManager {
  constructor(options: IGenerationManagerOptions) {
    this._api = options.api;
    this._host = options.host;
    this._storage = options.storage ?? null;
    this._insertionPoint = options.insertionPoint ?? (() => 'after-active');
    this._pollTimeout = options.pollTimeout ?? 25;
    this._backoff = options.backoff;
    for (const record of this._load()) {
      this._generations.set(record.id, new Generation(record));
    }
    this._host.opened.connect(this._onOpened, this);
    this._host.closed.connect(this._onClosed, this);
    this._host.renamed.connect(this._onRenamed, this);
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this._onOnline);
    }
  }

  /** Emitted whenever something the panel shows changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Generations this browser knows, newest first. */
  get generations(): Generation[] {
    return Array.from(this._generations.values()).sort(
      (a, b) => b.record.createdAt - a.record.createdAt
    );
  }

  get(id: string): Generation | undefined {
    return this._generations.get(id);
  }

  /** The generation running in (or last started for) a notebook. */
  forPath(path: string): Generation | undefined {
    return this.generations.find(g => g.record.path === path);
  }

  /** The newest generation followed in this page session (started or resumed). */
  latest(): Generation | undefined {
    return this.generations.find(g => g.stream !== null);
  }

  /** Offers to insert cells that waited for a closed notebook now open again. */
  get offers(): IPendingOffer[] {
    const offers: IPendingOffer[] = [];
    for (const gen of this._generations.values()) {
      if (!gen.record.held) {
        continue;
      }
      const handle = this._host.find(gen.record.path);
      const missing = handle
        ? this._missing(gen, handle)
        : gen.cells.order.filter(
            id => !gen.record.insertion.dismissed.includes(id)
          );
      if (missing.length > 0) {
        offers.push({
          generationId: gen.id,
          path: gen.record.path,
          count: missing.length,
          open: handle !== null
        });
      }
    }
    return offers;
  }

  /** Recent insertion latencies (for the benchmark). */
  get metrics(): IInsertionMetric[] {
    return this._metrics;
  }

  /** Follow every generation that is not settled (after a page load). */
  resumeAll(): void {
    const paths = new Set<string>();
    for (const gen of this._generations.values()) {
      if (!gen.record.settled) {
        paths.add(gen.record.path);
        this._follow(gen, 0);
      }
    }
    // Notebooks that finished loading before the manager existed.
    for (const path of paths) {
      if (this._host.find(path)) {
        this._onOpened(this._host, path);
      }
    }
  }

  /**
   * Start a generation into the notebook at `handle`; starts its kernel when
   * none is running. Resolves with the generation once the server took it.
   */
  async start(
    request: Omit<IGenerationRequest, 'kernel_id'>,
    handle: INotebookHandle
  ): Promise<Generation> {
    const kernelId = await handle.ensureKernel();
    const anchor =
      this._insertionPoint() === 'end' ? null : handle.activeCellId();
    const { id } = await this._api.startGeneration({
      ...request,
      ...(kernelId ? { kernel_id: kernelId } : {})
    });
    const record: IGenerationRecord = {
      id,
      path: handle.path,
      prompt: request.prompt,
      createdAt: Date.now(),
      status: 'running',
      insertion: emptyInsertionState(anchor),
      held: false,
      cells: null,
      settled: false
    };
    const gen = new Generation(record);
    gen.present = new Set(presentCells(handle.shared, id).keys());
    this._generations.set(id, gen);
    this._watchCells(handle);
    this._prune();
    this._save();
    this._follow(gen, 0);
    this._changed.emit();
    return gen;
  }

  /** Ask the server to stop; the stream delivers the `cancelled` event. */
  async cancel(id: string): Promise<void> {
    const gen = this._generations.get(id);
    if (gen) {
      gen.cancelling = true;
      if (!isTerminalStatus(gen.progress.status)) {
        gen.progress = { ...gen.progress, status: 'cancelling' };
      }
      this._changed.emit();
    }
    try {
      await this._api.cancelGeneration(id);
    } catch (error) {
      if (gen) {
        gen.cancelling = false;
        gen.error = errorMessage(error);
        this._changed.emit();
      }
      throw error;
    }
  }

  /** Run (true) or skip (false) a cell that waits for approval. */
  async answerApproval(
    id: string,
    approvalId: string,
    approved: boolean
  ): Promise<void> {
    const gen = this.viewed(id);
    const forget = () => {
      if (gen) {
        gen.progress = {
          ...gen.progress,
          approvals: gen.progress.approvals.filter(
            a => a.approvalId !== approvalId
          )
        };
        this._changed.emit();
      }
    };
    try {
      await this._api.answerApproval(id, approvalId, approved);
      forget();
    } catch (error) {
      if (
        error instanceof CookbookAPIError &&
        (error.status === 404 || error.status === 409)
      ) {
        // Already answered (another tab) or no longer asked: nothing to do.
        forget();
        return;
      }
      throw error;
    }
  }

  /**
   * View a generation from the server's history (replays its events); it
   * inserts nothing, as its record (if any) already did.
   */
  open(id: string): Generation {
    let gen = this._generations.get(id);
    if (!gen) {
      gen = new Generation({
        id,
        path: '',
        prompt: '',
        createdAt: 0,
        status: 'unknown',
        insertion: emptyInsertionState(null),
        held: false,
        cells: null,
        settled: true
      });
      this._viewOnly.set(id, gen);
    }
    if (!gen.stream && gen.progress.lastSeq === 0) {
      this._follow(gen, 0);
    }
    return gen;
  }

  /** A generation shown from history but not started here. */
  viewed(id: string): Generation | undefined {
    return this._generations.get(id) ?? this._viewOnly.get(id);
  }

  /** Insert the cells that waited for the (reopened) notebook. */
  async acceptOffer(id: string): Promise<number> {
    const gen = this._generations.get(id);
    if (!gen) {
      return 0;
    }
    const handle = this._host.find(gen.record.path);
    if (!handle) {
      throw new Error(`${gen.record.path} is not open.`);
    }
    if (gen.cells.size === 0) {
      await this._fetchCells(gen);
    }
    gen.record.held = false;
    const result = this._reconcile(gen, handle);
    this._settle(gen);
    this._save();
    this._changed.emit();
    return result.inserted.length;
  }

  /** Forget cells that waited: the user does not want them (the server keeps them). */
  discardOffer(id: string): void {
    const gen = this._generations.get(id);
    if (!gen) {
      return;
    }
    const handle = this._host.find(gen.record.path);
    const missing = handle
      ? this._missing(gen, handle)
      : gen.cells.order.slice();
    gen.record.insertion.dismissed.push(...missing);
    gen.record.held = false;
    this._settle(gen);
    this._save();
    this._changed.emit();
  }

  /**
   * Insert a past generation's validated cells into a notebook (skipping
   * those already there). Returns how many were inserted.
   */
  async insertInto(id: string, handle: INotebookHandle): Promise<number> {
    const cells = await replayCells(this._api, id);
    const state = emptyInsertionState(
      this._insertionPoint() === 'end' ? null : handle.activeCellId()
    );
    return reconcile(handle.shared, state, id, cells).inserted.length;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this._onOnline);
    }
    for (const gen of [
      ...this._generations.values(),
      ...this._viewOnly.values()
    ]) {
      gen.stream?.stop();
    }
    Signal.clearData(this);
  }

  /** Back online: retry the streams waiting in a backoff now. */
  private _onOnline = (): void => {
    for (const gen of this._generations.values()) {
      gen.stream?.wake();
    }
  };

  // -- streaming -------------------------------------------------------------------------------

  private _follow(gen: Generation, after: number): void {
    if (gen.stream?.running) {
      return;
    }
    const stream = new EventStream({
      after,
      timeout: this._pollTimeout,
      backoff: this._backoff,
      fetchPage: (a, timeout, signal) =>
        this._api.events(gen.id, a, timeout, signal),
      onEvents: events => this._onEvents(gen, events),
      onStateChanged: (state, error) => {
        gen.streamState = state;
        gen.error =
          state === 'error'
            ? errorMessage(error)
            : state === 'reconnecting'
              ? null
              : gen.error;
        this._changed.emit();
      }
    });
    gen.stream = stream;
    void stream.start().then(async result => {
      if (this._disposed) {
        return;
      }
      if (result.reason === 'done' && !isTerminalStatus(gen.progress.status)) {
        // The server ended the stream without a terminal event (it restarted mid-run).
        try {
          const info = await this._api.getGeneration(gen.id);
          gen.progress = {
            ...gen.progress,
            status: toProgressStatus(info.status),
            message: info.message ?? undefined
          };
          gen.record.status = info.status;
        } catch (error) {
          gen.error = errorMessage(error);
        }
      }
      if (
        result.reason === 'error' &&
        result.error instanceof CookbookAPIError &&
        result.error.status === 404
      ) {
        // Unknown to the server (e.g. its database was reset): nothing more will come.
        gen.record.settled = true;
      }
      this._settle(gen);
      this._save();
      this._changed.emit();
    });
  }

  private _onEvents(gen: Generation, events: ICookbookEvent[]): void {
    const now = Date.now();
    const newest = events[events.length - 1];
    if (newest && typeof newest.ts === 'number') {
      const offset = now / 1000 - newest.ts;
      gen.clockOffset =
        gen.clockOffset === null ? offset : Math.min(gen.clockOffset, offset);
    }
    gen.progress = reduceAll(gen.progress, events);
    gen.eventCount += events.length;
    gen.record.status = gen.progress.status;
    const touched = new Set<string>();
    const stamps = new Map<string, number>();
    for (const event of events) {
      const data = event.data ?? {};
      if (event.type === 'cell_validated' && data.cell && data.cell_id) {
        gen.cells.validated(
          String(data.cell_id),
          Number(data.index),
          data.cell
        );
        touched.add(String(data.cell_id));
        stamps.set(String(data.cell_id), event.ts);
      } else if (event.type === 'cell_invalidated' && data.cell_id) {
        gen.cells.invalidated(String(data.cell_id));
        touched.add(String(data.cell_id));
      }
    }
    // Only generations this browser started put cells in notebooks, and only
    // until settled: viewing an old one from the history inserts nothing.
    const inserts = this._generations.has(gen.id) && !gen.record.settled;
    if (touched.size > 0 && gen.record.path && inserts) {
      const handle = this._host.find(gen.record.path);
      if (handle && !gen.record.held) {
        const result = this._reconcile(gen, handle, touched);
        const insertedAt = Date.now();
        for (const cellId of result.inserted) {
          const ts = stamps.get(cellId);
          if (ts !== undefined) {
            this._metrics.push({
              generationId: gen.id,
              cellId,
              ts,
              receivedAt: now,
              insertedAt
            });
          }
        }
        if (this._metrics.length > 500) {
          this._metrics.splice(0, this._metrics.length - 500);
        }
      } else {
        // The target is closed: keep the cells until it is back.
        if (!handle) {
          gen.record.held =
            gen.record.held || this._closedTargets.has(gen.record.path);
        }
        gen.record.cells = gen.cells.entries();
      }
      this._save();
    } else if (events.some(e => isTerminalStatus(e.type))) {
      this._save();
    }
    this._changed.emit();
  }

  private _reconcile(
    gen: Generation,
    handle: INotebookHandle,
    cellIds?: Iterable<string>
  ): { inserted: string[]; removed: string[] } {
    try {
      const result = reconcile(
        handle.shared,
        gen.record.insertion,
        gen.id,
        gen.cells,
        cellIds
      );
      gen.present = new Set(presentCells(handle.shared, gen.id).keys());
      gen.record.cells = null;
      return result;
    } catch (error) {
      gen.error = errorMessage(error);
      gen.record.cells = gen.cells.entries();
      return { inserted: [], removed: [] };
    }
  }

  private _missing(gen: Generation, handle: INotebookHandle): string[] {
    const present = presentCells(handle.shared, gen.id);
    return gen.cells.order.filter(
      id => !present.has(id) && !gen.record.insertion.dismissed.includes(id)
    );
  }

  private async _fetchCells(gen: Generation): Promise<void> {
    gen.cells = await replayCells(this._api, gen.id);
  }

  private _settle(gen: Generation): void {
    const record = gen.record;
    if (!isTerminalStatus(record.status) || record.held) {
      return;
    }
    const handle = record.path ? this._host.find(record.path) : null;
    if (handle) {
      if (this._missing(gen, handle).length === 0) {
        record.settled = true;
        record.cells = null;
      }
    } else if (!record.cells || record.cells.length === 0) {
      record.settled = true;
    }
  }

  // -- notebooks coming and going -------------------------------------------------------------

  private _onOpened(_: INotebookHost, path: string): void {
    this._closedTargets.delete(path);
    const handle = this._host.find(path);
    if (!handle) {
      return;
    }
    let changed = false;
    for (const gen of this._generations.values()) {
      if (gen.record.path !== path) {
        continue;
      }
      this._watchCells(handle);
      // What is there now is the baseline for noticing the user's deletions.
      gen.present = new Set(presentCells(handle.shared, gen.id).keys());
      if (gen.record.held) {
        // Asked on reopen: the panel shows the offer.
        changed = true;
        continue;
      }
      if (!gen.record.settled && gen.cells.size > 0) {
        // Back after a page reload: put back what the reload lost. Only
        // insertions: the replay may not have reached later events yet.
        this._reconcile(gen, handle, gen.cells.order);
        this._settle(gen);
        changed = true;
      }
    }
    if (changed) {
      this._save();
      this._changed.emit();
    }
  }

  private _onClosed(_: INotebookHost, path: string): void {
    this._closedTargets.add(path);
    let changed = false;
    for (const gen of this._generations.values()) {
      if (gen.record.path === path && !gen.record.settled) {
        gen.record.held = true;
        gen.record.cells = gen.cells.entries();
        changed = true;
      }
    }
    if (changed) {
      this._save();
      this._changed.emit();
    }
  }

  private _onRenamed(
    _: INotebookHost,
    args: { oldPath: string; newPath: string }
  ): void {
    let changed = false;
    for (const gen of this._generations.values()) {
      if (gen.record.path === args.oldPath) {
        gen.record.path = args.newPath;
        changed = true;
      }
    }
    if (changed) {
      this._save();
      this._changed.emit();
    }
  }

  /** Notice when the user deletes a generated cell, so it is never put back. */
  private _watchCells(handle: INotebookHandle): void {
    if (this._watched.has(handle)) {
      return;
    }
    this._watched.add(handle);
    this._cellObjects.set(handle, new Set(handle.shared.cells));
    let scheduled = false;
    handle.cellsChanged.connect(() => {
      if (scheduled) {
        return;
      }
      scheduled = true;
      // After the change settles: a move is a delete then an insert.
      setTimeout(() => {
        scheduled = false;
        this._checkDismissals(handle);
      }, 0);
    }, this);
  }

  private _checkDismissals(handle: INotebookHandle): void {
    if (this._host.find(handle.path) !== handle) {
      return;
    }
    // A revert or a reload from disk replaces every cell object at once; a
    // user's deletion leaves the other cells in place. Only the latter
    // dismisses cells.
    const before = this._cellObjects.get(handle);
    const cells = handle.shared.cells;
    this._cellObjects.set(handle, new Set(cells));
    const reloaded =
      before !== undefined &&
      before.size > 0 &&
      cells.length > 0 &&
      cells.every(cell => !before.has(cell));
    let changed = false;
    for (const gen of this._generations.values()) {
      if (gen.record.path !== handle.path) {
        continue;
      }
      const now = new Set(presentCells(handle.shared, gen.id).keys());
      if (
        !reloaded &&
        trackDismissals(gen.record.insertion, gen.present, now)
      ) {
        changed = true;
      }
      gen.present = now;
    }
    if (changed) {
      this._save();
    }
  }

  // -- persistence -----------------------------------------------------------------------------

  private _load(): IGenerationRecord[] {
    if (!this._storage) {
      return [];
    }
    try {
      const raw = this._storage.getItem(STORAGE_KEY);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter(isRecord) : [];
    } catch {
      return [];
    }
  }

  private _save(): void {
    if (!this._storage) {
      return;
    }
    const records = this.generations.map(g => g.record);
    try {
      this._storage.setItem(STORAGE_KEY, JSON.stringify(records));
    } catch {
      // Over quota (big outputs): keep the bookkeeping, drop the cell copies;
      // the server still has every validated cell.
      try {
        this._storage.setItem(
          STORAGE_KEY,
          JSON.stringify(records.map(r => ({ ...r, cells: null })))
        );
      } catch {
        /* storage unavailable: in-memory only */
      }
    }
  }

  private _prune(): void {
    const all = this.generations;
    if (all.length <= MAX_RECORDS) {
      return;
    }
    for (const gen of all.slice(MAX_RECORDS)) {
      if (gen.record.settled) {
        gen.stream?.stop();
        this._generations.delete(gen.id);
      }
    }
  }

  private _api: CookbookAPI;
  private _host: INotebookHost;
  private _storage: IKeyValueStore | null;
  private _insertionPoint: () => InsertionPoint;
  private _pollTimeout: number;
  private _backoff: IBackoff | undefined;
  private _generations = new Map<string, Generation>();
  private _viewOnly = new Map<string, Generation>();
  private _closedTargets = new Set<string>();
  private _watched = new WeakSet<INotebookHandle>();
  private _cellObjects = new WeakMap<INotebookHandle, Set<object>>();
  private _metrics: IInsertionMetric[] = [];
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
}

function isRecord(value: any): value is IGenerationRecord {
  return (
    value &&
    typeof value.id === 'string' &&
    typeof value.path === 'string' &&
    value.insertion &&
    typeof value.insertion.inserted === 'object' &&
    Array.isArray(value.insertion.dismissed)
  );
}

function toProgressStatus(status: string): IProgressState['status'] {
  switch (status) {
    case 'finished':
    case 'failed':
    case 'cancelled':
    case 'interrupted':
      return status;
    case 'cancelling':
      return 'cancelling';
    default:
      return 'running';
  }
}

/**
 * A generation's validated cells in notebook order, replayed from its events
 * (`index` is authoritative for the order: a heading may be placed before a
 * code cell validated earlier).
 */
export async function replayCells(
  api: Pick<CookbookAPI, 'events'>,
  id: string
): Promise<ValidatedCells> {
  const cells = new ValidatedCells();
  let after = 0;
  for (;;) {
    const page = await api.events(id, after, 0);
    const events = page.events ?? [];
    for (const event of events) {
      const data = event.data ?? {};
      if (event.type === 'cell_validated' && data.cell_id && data.cell) {
        cells.validated(String(data.cell_id), Number(data.index), data.cell);
      } else if (event.type === 'cell_invalidated' && data.cell_id) {
        cells.invalidated(String(data.cell_id));
      }
      after = Math.max(after, event.seq);
    }
    if (page.done || events.length === 0) {
      return cells;
    }
  }
}
