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
  INotebookCellSnapshot,
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
  blankCellId,
  boundSnapshot,
  cellsOf,
  cleanCell,
  cookbookTag,
  emptyInsertionState,
  fingerprint,
  IInsertionState,
  InsertionPoint,
  lastCellOf,
  outputsText,
  presentCells,
  reconcile,
  removeCells,
  ReplaceDecision,
  unitAnchor
} from './notebook';
import type { INotebookHandle, INotebookHost } from './notebookHost';
import { IKeyValueStore, RecordStore, recordsToForget } from './persistence';
import { IProgressState, reduceAll } from './progress';
import type { ICookbookSettings } from './settings';
import type {
  ICellsInserted,
  IFollowUpOptions,
  IInsertionMetric,
  IInsertOptions,
  IPendingApproval,
  IPendingOffer,
  IPreviousRun,
  IStartOptions,
  StartRequest
} from './tokens';

/** A package name with an optional version, as pip takes it (no options, no URLs). */
const REQUIREMENT =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?([<>=!~]=?[A-Za-z0-9.*+!_-]+)?(,[<>=!~]=?[A-Za-z0-9.*+!_-]+)*$/;

/** Whether `text` is a plain requirement (`torch`, `torch==2.3.1`, `transformers>=4.40`). */
export function isRequirement(text: string): boolean {
  return REQUIREMENT.test(text);
}

/**
 * The code that installs `packages` into the kernel's own interpreter and
 * raises when pip fails (so the failure is seen, unlike `%pip`'s).
 */
export function installCode(packages: string[]): string {
  const bad = packages.filter(p => !isRequirement(p));
  if (packages.length === 0 || bad.length > 0) {
    throw new Error(
      bad.length > 0
        ? `Not a package to install: ${bad.join(', ')}`
        : 'No package to install.'
    );
  }
  return [
    'import subprocess as _cb_sp, sys as _cb_sys',
    `_cb_r = _cb_sp.run([_cb_sys.executable, "-m", "pip", "install", *${JSON.stringify(packages)}], capture_output=True, text=True)`,
    'print(_cb_r.stdout[-4000:])',
    'if _cb_r.returncode != 0:',
    '    raise RuntimeError("pip install failed: " + (_cb_r.stderr.strip().splitlines() or ["exit status %d" % _cb_r.returncode])[-1])'
  ].join('\n');
}

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
  async start(
    request: StartRequest,
    target?: string,
    options: IStartOptions = {}
  ): Promise<Generation> {
    const handle = this._target(target);
    const kernelId = await handle.ensureKernel();
    const insertion = this._placement(handle, options.placement);
    if (options.replacePrevious) {
      const previous = this.previousRun(handle.path);
      if (previous) {
        insertion.replaces = {
          generations: this._thread(previous.generationId),
          keep: this._editedCells(handle, this._thread(previous.generationId))
        };
      }
    }
    const approval = this._settings().approval;
    const { id } = await this._api.startGeneration({
      ...(approval !== 'server' ? { approval } : {}),
      ...request,
      ...(kernelId ? { kernel_id: kernelId } : {})
    });
    return this._begin(id, handle, request.prompt, insertion, {
      request: { ...request }
    });
  }

  /** See `ICookbook.followUp`. */
  async followUp(
    parentId: string,
    prompt: string,
    options: IFollowUpOptions = {}
  ): Promise<Generation> {
    const text = prompt.trim();
    if (!text) {
      throw new Error('Say what the follow-up should add or change.');
    }
    const parent = this.get(parentId);
    const path =
      options.target ??
      (parent?.path && this._notebooks.find(parent.path)
        ? parent.path
        : undefined);
    const handle = this._target(path);
    const kernelId = await handle.ensureKernel();
    const thread = this._thread(parentId);
    const snapshot = this.snapshot(handle, thread);
    const insertion = this._placement(handle, 'end');
    // After the thread's last cell: the follow-up continues its unit.
    insertion.anchor = lastCellOf(handle.shared, thread) ?? insertion.anchor;
    // What each cell held when sent (its whole source), to notice a later edit.
    const sent = new Set(snapshot.map(cell => cell.id));
    insertion.sent = Object.fromEntries(
      handle.shared.cells
        .filter(cell => sent.has(cell.id))
        .map(cell => [cell.id, fingerprint(cell.getSource())])
    );
    const approval = options.approval ?? this._settings().approval;
    const { id } = await this._api.startFollowUp({
      parent_id: parentId,
      prompt: text,
      notebook_cells: snapshot,
      ...(approval !== 'server' ? { approval } : {}),
      secrets: options.secrets ?? [],
      ...(kernelId ? { kernel_id: kernelId } : {})
    });
    const inherited = parent?.request;
    return this._begin(id, handle, text, insertion, {
      parentId,
      request: inherited
        ? { ...inherited, prompt: text, parent_id: parentId }
        : null
    });
  }

  /** See `ICookbook.retry`. */
  async retry(
    id: string,
    overrides: Partial<StartRequest> = {}
  ): Promise<Generation> {
    const gen = this.get(id);
    let request = gen?.request ?? null;
    if (!request) {
      const info = await this._api.getGeneration(id);
      request = (info.request ?? null) as StartRequest | null;
    }
    if (!request || !request.prompt) {
      throw new Error('This generation’s request is not known here.');
    }
    const target =
      gen?.path && this._notebooks.find(gen.path) ? gen.path : undefined;
    if (request.parent_id && !overrides.provider) {
      return this.followUp(request.parent_id, request.prompt, { target });
    }
    // A new start: not a follow-up, and the kernel is the notebook's now.
    const rest: Record<string, unknown> = { ...request };
    delete rest.notebook_cells;
    delete rest.parent_id;
    delete rest.kernel_id;
    return this.start({ ...(rest as StartRequest), ...overrides }, target, {
      replacePrevious: false
    });
  }

  /** See `ICookbook.installAndRetry`. */
  async installAndRetry(id: string, packages: string[]): Promise<Generation> {
    const code = installCode(packages);
    const gen = this.get(id);
    const handle = this._target(
      gen?.path && this._notebooks.find(gen.path) ? gen.path : undefined
    );
    const run = await handle.runInKernel(code);
    if (!run.ok) {
      const last = run.output.trim().split('\n').pop() ?? '';
      throw new Error(last || 'The install failed.');
    }
    return this.retry(id);
  }

  /** See `ICookbook.answerReplacement`. */
  answerReplacement(
    id: string,
    cellId: string,
    decision: ReplaceDecision
  ): void {
    const gen = this._local().get(id);
    const handle = gen ? this._notebooks.find(gen.path) : null;
    if (!gen || !handle) {
      return;
    }
    this._inserter.answer(gen, handle, cellId, decision);
    this._save();
    this._changed.emit(gen);
  }

  /** See `ICookbook.removeCells`. */
  removeCells(id: string, target?: string): number {
    const gen = this._local().get(id);
    const path = target ?? gen?.path;
    const handle = path ? this._notebooks.find(path) : null;
    if (!handle) {
      throw new Error(path ? `${path} is not open.` : 'No notebook is open.');
    }
    const removed = removeCells(handle.shared, [id]);
    if (gen && gen.path === handle.path) {
      // The user's choice: never put back, even by a replay.
      for (const cell of removed) {
        if (!gen.record.insertion.dismissed.includes(cell.cellId)) {
          gen.record.insertion.dismissed.push(cell.cellId);
        }
      }
      gen.present = new Set(presentCells(handle.shared, id).keys());
      gen.pendingReplacements = [];
      this._save();
      this._changed.emit(gen);
    }
    return removed.length;
  }

  /** See `ICookbook.previousRun`. */
  previousRun(path: string): IPreviousRun | null {
    const handle = this._notebooks.find(path);
    if (!handle) {
      return null;
    }
    // The newest run started here whose cells are in the notebook, else the
    // run of the notebook's last Cookbook cell.
    const present = new Set(
      handle.shared.cells
        .map(c => cookbookTag(c.getMetadata())?.generation_id)
        .filter((id): id is string => !!id)
    );
    const local = this.generations.find(
      g => g.path === path && !g.parentId && present.has(g.id)
    );
    let root = local?.id ?? null;
    if (!root) {
      const cells = handle.shared.cells;
      for (let i = cells.length - 1; i >= 0 && !root; i--) {
        root = cookbookTag(cells[i].getMetadata())?.generation_id ?? null;
      }
      root = root ? this._root(root) : null;
    }
    if (!root) {
      return null;
    }
    const count = cellsOf(handle.shared, this._thread(root)).length;
    return count > 0 ? { generationId: root, cells: count } : null;
  }

  /** See `ICookbook.pendingApprovals`. */
  pendingApprovals(): IPendingApproval[] {
    return this.generations
      .filter(g => !isTerminalStatus(g.progress.status))
      .flatMap(g =>
        g.progress.approvals.map(approval => ({ generation: g, approval }))
      );
  }

  /**
   * The notebook's cells as a follow-up's agent sees them: sources, short
   * outputs, and whether the user wrote or changed each one.
   */
  snapshot(
    handle: INotebookHandle,
    thread: string[] = []
  ): INotebookCellSnapshot[] {
    const ids = new Set(thread);
    const inThread = new Set<number>();
    const cells = handle.shared.cells.map((cell, index) => {
      const tag = cookbookTag(cell.getMetadata());
      const source = cell.getSource();
      let edited = true;
      if (tag) {
        const gen = this._local().get(tag.generation_id);
        const inserted = gen?.record.insertion.inserted[tag.cell_id];
        // A cell of a run this browser did not insert cannot be told apart
        // from the user's edit: ask before replacing it.
        edited = inserted === undefined || inserted !== fingerprint(source);
      }
      if (tag && ids.has(tag.generation_id)) {
        inThread.add(index);
      }
      return {
        id: cell.id,
        cell_type:
          cell.cell_type ?? (cell.toJSON?.()?.cell_type as string) ?? 'code',
        source,
        outputs_text: outputsText(cell),
        edited
      };
    });
    return boundSnapshot(cells, inThread);
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
  async insertInto(
    id: string,
    target?: string,
    options: IInsertOptions = {}
  ): Promise<number> {
    const handle = this._target(target);
    const outputs = options.outputs ?? 'keep';
    const gen = this.get(id);
    const generatedAt = gen?.progress.startedAt ?? null;
    const cells = (await replayCells(this._api, id)).map(cell =>
      cleanCell(cell, outputs, { generationId: id, generatedAt })
    );
    const state = this._placement(handle, options.placement);
    // Only what is missing: the cells already there stay as they are.
    const present = presentCells(handle.shared, id);
    const missing = cells.order.filter(cellId => !present.has(cellId));
    const { inserted } = reconcile(handle.shared, state, id, cells, missing);
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

  /**
   * Where a generation's cells go: at the end, or below the active cell (but
   * never inside another run's cells); the first one takes the place of a
   * new notebook's untouched empty cell.
   */
  private _placement(
    handle: INotebookHandle,
    placement?: InsertionPoint
  ): IInsertionState {
    const where = placement ?? this._settings().insertionPoint;
    const anchor =
      where === 'end' ? null : unitAnchor(handle.shared, handle.activeCellId());
    const insertion = emptyInsertionState(anchor);
    insertion.blank = blankCellId(handle.shared);
    return insertion;
  }

  private _begin(
    id: string,
    handle: INotebookHandle,
    prompt: string,
    insertion: IInsertionState,
    extra: { request?: StartRequest | null; parentId?: string | null }
  ): Generation {
    const gen = new Generation(
      startedRecord(id, handle.path, prompt, insertion, extra),
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

  /** The first generation of the thread `id` belongs to (as far as known here). */
  private _root(id: string): string {
    let current = id;
    const seen = new Set<string>();
    for (;;) {
      seen.add(current);
      const parent = this.get(current)?.parentId;
      if (!parent || seen.has(parent)) {
        return current;
      }
      current = parent;
    }
  }

  /** The generations of `id`'s thread known here: its root and every follow-up. */
  private _thread(id: string): string[] {
    const root = this._root(id);
    const ids = new Set([root, id]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const gen of this._local().values()) {
        if (gen.parentId && ids.has(gen.parentId) && !ids.has(gen.id)) {
          ids.add(gen.id);
          grew = true;
        }
      }
    }
    return Array.from(ids);
  }

  /** nbformat ids of these generations' cells the user changed since they went in. */
  private _editedCells(handle: INotebookHandle, ids: string[]): string[] {
    return cellsOf(handle.shared, ids)
      .filter(cell => {
        const inserted = this._local().get(cell.generationId)?.record.insertion
          .inserted[cell.cellId];
        return inserted !== undefined && inserted !== fingerprint(cell.source);
      })
      .map(cell => cell.id);
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
