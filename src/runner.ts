/**
 * Runs generations from the browser's side: starts them, follows each one's
 * event stream (resuming after network failures and page reloads), folds its
 * events into its progress, and hands its validated cells to the inserter.
 * The model (`model.ts`) exposes it behind `ICookbook`.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  CookbookAPI,
  CookbookAPIError,
  errorMessage,
  ICookbookEvent,
  isTerminalStatus
} from './api';
import {
  GenerationStreams,
  IBackoff,
  IStreamResult,
  replayCells
} from './events';
import { Generation, startedRecord, viewedRecord } from './generation';
import { CellInserter } from './insertion';
import { InsertionMetrics } from './metrics';
import {
  applyCellEvents,
  emptyInsertionState,
  presentCells,
  reconcile
} from './notebook';
import type { INotebookHandle, INotebookHost } from './notebookHost';
import { IKeyValueStore, RecordStore, recordsToForget } from './persistence';
import { IProgressState, reduceAll } from './progress';
import type { ICookbookSettings } from './settings';
import type {
  ICellsInserted,
  IInsertionMetric,
  IPendingOffer,
  StartRequest
} from './tokens';

export interface IGenerationRunnerOptions {
  /** The REST client (its generation endpoints). */
  api: CookbookAPI;
  notebooks: INotebookHost;
  /** Where generations are remembered across reloads (null: nowhere). */
  storage: IKeyValueStore | null;
  /** The user's settings now (insertion point, approval). */
  settings: () => ICookbookSettings;
  /** Long-poll timeout, seconds. */
  pollTimeout?: number;
  /** Retry delays after network failures. */
  backoff?: IBackoff;
}

export class GenerationRunner {
  constructor(options: IGenerationRunnerOptions) {
    this._api = options.api;
    this._notebooks = options.notebooks;
    this._settings = options.settings;
    this._records = new RecordStore(options.storage);
    this._streams = new GenerationStreams({
      fetchPage: (id, after, timeout, signal) =>
        this._api.events(id, after, timeout, signal),
      timeout: options.pollTimeout,
      backoff: options.backoff
    });
    this._inserter = new CellInserter({
      notebooks: options.notebooks,
      generations: () => this._local().values(),
      onChanged: changed => {
        this._save();
        changed.forEach(gen => this._changed.emit(gen));
      },
      onInserted: (gen, cellIds) =>
        this._cellsInserted.emit({
          generationId: gen.id,
          path: gen.path,
          cellIds
        })
    });
  }

  get started(): ISignal<this, Generation> {
    return this._started;
  }

  get changed(): ISignal<this, Generation> {
    return this._changed;
  }

  get eventsReceived(): ISignal<
    this,
    { generation: Generation; events: ICookbookEvent[] }
  > {
    return this._eventsReceived;
  }

  get cellsInserted(): ISignal<this, ICellsInserted> {
    return this._cellsInserted;
  }

  get finished(): ISignal<this, Generation> {
    return this._finished;
  }

  /** Generations started in this browser, newest first. */
  get generations(): Generation[] {
    return Array.from(this._local().values()).sort(
      (a, b) => b.createdAt - a.createdAt
    );
  }

  /** A generation started here, or viewed from the history. */
  get(id: string): Generation | undefined {
    return this._local().get(id) ?? this._viewOnly.get(id);
  }

  /** The newest generation followed since the page loaded. */
  latest(): Generation | undefined {
    return this.generations.find(g => g.followed);
  }

  get offers(): IPendingOffer[] {
    return this._inserter.offers(this._local().values());
  }

  get insertionMetrics(): ReadonlyArray<IInsertionMetric> {
    return this._metrics.entries;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Follow every generation left unsettled before the page loaded, and put
   * back the cells a reload lost in notebooks already open.
   */
  restore(): void {
    const paths = new Set<string>();
    for (const gen of this._local().values()) {
      if (!gen.settled) {
        paths.add(gen.path);
        this._follow(gen);
      }
    }
    for (const path of paths) {
      if (this._notebooks.find(path)) {
        this._inserter.notebookOpened(path);
      }
    }
  }

  /** See `ICookbook.startGeneration`. */
  async start(request: StartRequest, target?: string): Promise<Generation> {
    const handle = this._target(target);
    const kernelId = await handle.ensureKernel();
    const anchor = this._anchor(handle);
    const approval = this._settings().approval;
    const { id } = await this._api.startGeneration({
      ...(approval !== 'server' ? { approval } : {}),
      ...request,
      ...(kernelId ? { kernel_id: kernelId } : {})
    });
    const gen = new Generation(
      startedRecord(id, handle.path, request.prompt, anchor),
      true
    );
    gen.present = new Set(presentCells(handle.shared, id).keys());
    this._local().set(id, gen);
    this._inserter.watch(handle);
    this._prune();
    this._save();
    this._follow(gen);
    this._started.emit(gen);
    return gen;
  }

  /** Ask the server to stop; the stream delivers the `cancelled` event. */
  async cancel(id: string): Promise<void> {
    const gen = this._local().get(id);
    if (gen && !isTerminalStatus(gen.progress.status)) {
      gen.progress = { ...gen.progress, status: 'cancelling' };
      this._changed.emit(gen);
    }
    try {
      await this._api.cancelGeneration(id);
    } catch (error) {
      if (gen) {
        gen.error = errorMessage(error);
        this._changed.emit(gen);
      }
      throw error;
    }
  }

  /** Run or skip a cell waiting for approval (`trust`: and trust its repository). */
  async answerApproval(
    id: string,
    approvalId: string,
    approved: boolean,
    trust: boolean
  ): Promise<void> {
    try {
      await this._api.answerApproval(id, approvalId, approved, trust);
    } catch (error) {
      // 404 / 409: answered already (another tab) or no longer asked.
      if (
        !(error instanceof CookbookAPIError) ||
        (error.status !== 404 && error.status !== 409)
      ) {
        throw error;
      }
    }
    const gen = this.get(id);
    if (gen) {
      gen.progress = {
        ...gen.progress,
        approvals: gen.progress.approvals.filter(
          a => a.approvalId !== approvalId
        )
      };
      this._changed.emit(gen);
    }
  }

  /** Follow a generation from the server's history; it inserts nothing. */
  view(id: string): Generation {
    let gen = this.get(id);
    if (!gen) {
      gen = new Generation(viewedRecord(id), false);
      this._viewOnly.set(id, gen);
    }
    if (!this._streams.running(id) && gen.progress.lastSeq === 0) {
      this._follow(gen);
    }
    return gen;
  }

  /** See `ICookbook.insertInto`. */
  async insertInto(id: string, target?: string): Promise<number> {
    const handle = this._target(target);
    const cells = await replayCells(this._api, id);
    const state = emptyInsertionState(this._anchor(handle));
    const { inserted } = reconcile(handle.shared, state, id, cells);
    if (inserted.length > 0) {
      this._cellsInserted.emit({
        generationId: id,
        path: handle.path,
        cellIds: inserted
      });
    }
    return inserted.length;
  }

  /** Insert the cells that waited for the (reopened) notebook. */
  async acceptOffer(id: string): Promise<number> {
    const gen = this._local().get(id);
    if (!gen) {
      return 0;
    }
    const handle = this._notebooks.find(gen.path);
    if (!handle) {
      throw new Error(`${gen.path} is not open.`);
    }
    if (gen.cells.size === 0) {
      gen.cells = await replayCells(this._api, gen.id);
    }
    const count = this._inserter.accept(gen, handle);
    this._save();
    this._changed.emit(gen);
    return count;
  }

  /** Forget the cells that waited: the user does not want them. */
  discardOffer(id: string): void {
    const gen = this._local().get(id);
    if (gen) {
      this._inserter.discard(gen);
      this._save();
      this._changed.emit(gen);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._streams.dispose();
    this._inserter.dispose();
    Signal.clearData(this);
  }

  private _follow(gen: Generation): void {
    // Finishing counts only for a generation that was still to be followed.
    const unsettled = gen.local && !gen.settled;
    const ended = this._streams.follow(gen.id, {
      onEvents: events => this._onEvents(gen, events),
      onStateChanged: (state, error) => {
        gen.streamState = state;
        gen.error =
          state === 'error'
            ? errorMessage(error)
            : state === 'reconnecting'
              ? null
              : gen.error;
        this._changed.emit(gen);
      }
    });
    if (ended) {
      gen.followed = true;
      void ended.then(result => this._onStreamEnded(gen, result, unsettled));
    }
  }

  private _onEvents(gen: Generation, events: ICookbookEvent[]): void {
    const receivedAt = Date.now();
    const newest = events[events.length - 1];
    if (newest && typeof newest.ts === 'number') {
      const offset = receivedAt / 1000 - newest.ts;
      gen.clockOffset =
        gen.clockOffset === null ? offset : Math.min(gen.clockOffset, offset);
    }
    gen.progress = reduceAll(gen.progress, events);
    gen.record.status = gen.progress.status;
    const { touched, validatedAt } = applyCellEvents(gen.cells, events);
    this._eventsReceived.emit({ generation: gen, events });
    // Only generations this browser started put cells in notebooks, and only
    // until settled: viewing an old one from the history inserts nothing.
    const inserts = this._local().get(gen.id) === gen && !gen.settled;
    if (touched.size > 0 && gen.path && inserts) {
      const inserted = this._inserter.deliver(gen, touched);
      this._metrics.record(
        gen.id,
        inserted,
        validatedAt,
        receivedAt,
        Date.now()
      );
      this._save();
    } else if (events.some(e => isTerminalStatus(e.type))) {
      this._save();
    }
    this._changed.emit(gen);
  }

  private async _onStreamEnded(
    gen: Generation,
    result: IStreamResult,
    unsettled: boolean
  ): Promise<void> {
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
      if (this._disposed) {
        return;
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
    this._inserter.settle(gen);
    this._save();
    if (unsettled && isTerminalStatus(gen.progress.status)) {
      this._finished.emit(gen);
    }
    this._changed.emit(gen);
  }

  /** The generations started here, read from storage the first time. */
  private _local(): Map<string, Generation> {
    if (!this._loaded) {
      // Read lazily: nothing is parsed before the panel or `restore` asks.
      this._loaded = true;
      for (const record of this._records.load()) {
        if (!this._generations.has(record.id)) {
          this._generations.set(record.id, new Generation(record, true));
        }
      }
    }
    return this._generations;
  }

  private _save(): void {
    this._records.save(this.generations.map(g => g.record));
  }

  private _prune(): void {
    for (const record of recordsToForget(this.generations.map(g => g.record))) {
      this._streams.stop(record.id);
      this._generations.delete(record.id);
    }
  }

  /** The loaded notebook at `target`, else the current one. */
  private _target(target?: string): INotebookHandle {
    const current = this._notebooks.current();
    const path = target ?? current?.path;
    const handle = path ? this._notebooks.find(path) : null;
    if (!handle) {
      throw new Error(path ? `${path} is not open.` : 'No notebook is open.');
    }
    // The view the user works in, when the notebook has several.
    return current && current.path === path ? current : handle;
  }

  /** The cell a generation's first cell goes after (null: the end). */
  private _anchor(handle: INotebookHandle): string | null {
    return this._settings().insertionPoint === 'end'
      ? null
      : handle.activeCellId();
  }

  private _api: CookbookAPI;
  private _notebooks: INotebookHost;
  private _settings: () => ICookbookSettings;
  private _records: RecordStore;
  private _streams: GenerationStreams;
  private _inserter: CellInserter;
  private _metrics = new InsertionMetrics();
  private _loaded = false;
  private _generations = new Map<string, Generation>();
  private _viewOnly = new Map<string, Generation>();
  private _disposed = false;
  private _started = new Signal<this, Generation>(this);
  private _changed = new Signal<this, Generation>(this);
  private _eventsReceived = new Signal<
    this,
    { generation: Generation; events: ICookbookEvent[] }
  >(this);
  private _cellsInserted = new Signal<this, ICellsInserted>(this);
  private _finished = new Signal<this, Generation>(this);
}

function toProgressStatus(status: string): IProgressState['status'] {
  if (isTerminalStatus(status)) {
    return status as IProgressState['status'];
  }
  return status === 'cancelling' ? 'cancelling' : 'running';
}
