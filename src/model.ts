/**
 * The Cookbook model: the one owner of the REST client, the server state the
 * panel shows, and (through the runner) the generations this browser
 * follows. Every change is announced by a signal of its own (see
 * `ICookbook`).
 */
import type { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  CookbookAPI,
  CookbookAPIError,
  IGeneration,
  IModelInfo,
  IModelSummary,
  IRecipe,
  IRepoSummary,
  ISecretInfo,
  IStatus
} from './api';
import { downloadNotebook } from './download';
import type { IBackoff } from './events';
import type { Generation } from './generation';
import type { INotebookHost } from './notebookHost';
import type { IKeyValueStore } from './persistence';
import { GenerationRunner } from './runner';
import { ICookbookSettings, SettingsModel } from './settings';
import type {
  ICellsInserted,
  ICookbook,
  IEventsReceived,
  IIngestOptions,
  IInsertionMetric,
  ILiveGeneration,
  IPendingOffer,
  StartRequest
} from './tokens';

export class CookbookModel implements ICookbook {
  constructor(options: CookbookModel.IOptions) {
    this._api =
      options.api ??
      new CookbookAPI({ serverSettings: options.serverSettings });
    this.notebooks = options.notebooks;
    this._settings = options.settings ?? new SettingsModel();
    this._settings.changed.connect(this._onSettings, this);
    this._runner = new GenerationRunner({
      api: this._api,
      notebooks: options.notebooks,
      storage: options.storage ?? null,
      settings: () => this._settings.value,
      pollTimeout: options.pollTimeout,
      backoff: options.backoff
    });
    const runner = this._runner;
    runner.started.connect((_, g) => this._generationStarted.emit(g));
    runner.changed.connect((_, g) => this._generationChanged.emit(g));
    runner.eventsReceived.connect((_, e) => this._eventsReceived.emit(e));
    runner.cellsInserted.connect((_, c) => this._cellsInserted.emit(c));
    runner.finished.connect((_, g) => this._generationFinished.emit(g));
  }

  readonly notebooks: INotebookHost;

  get isDisposed(): boolean {
    return this._disposed;
  }

  // -- the server ----------------------------------------------------------------------------

  get status(): IStatus | null {
    return this._status;
  }

  get statusChanged(): ISignal<ICookbook, IStatus | null> {
    return this._statusChanged;
  }

  async refreshStatus(signal?: AbortSignal): Promise<IStatus> {
    const status = await this._api.status(signal);
    this._status = status;
    this._statusChanged.emit(status);
    return status;
  }

  get recipes(): ReadonlyArray<IRecipe> | null {
    return this._recipes;
  }

  get recipesChanged(): ISignal<ICookbook, ReadonlyArray<IRecipe> | null> {
    return this._recipesChanged;
  }

  async refreshRecipes(signal?: AbortSignal): Promise<ReadonlyArray<IRecipe>> {
    const recipes = await this._api.listRecipes(signal);
    this._recipes = recipes;
    this._recipesChanged.emit(recipes);
    return recipes;
  }

  // -- repositories --------------------------------------------------------------------------

  get repos(): ReadonlyArray<IRepoSummary> {
    return this._repos;
  }

  get reposChanged(): ISignal<ICookbook, ReadonlyArray<IRepoSummary>> {
    return this._reposChanged;
  }

  repo(id: string): IRepoSummary | undefined {
    return this._knownRepos.get(id);
  }

  async refreshRepos(
    signal?: AbortSignal
  ): Promise<ReadonlyArray<IRepoSummary>> {
    const repos = await this._api.listRepos(signal);
    repos.forEach(repo => this._knownRepos.set(repo.id, repo));
    this._repos = repos;
    this._reposChanged.emit(repos);
    return repos;
  }

  async getRepo(id: string, signal?: AbortSignal): Promise<IRepoSummary> {
    return this._updateRepo(await this._api.getRepo(id, signal));
  }

  async ingest(
    source: string,
    options: IIngestOptions = {}
  ): Promise<IRepoSummary> {
    return this._updateRepo(
      await this._api.ingest(source, options.ref, options.signal, options.trust)
    );
  }

  async trustRepo(id: string, trusted: boolean): Promise<IRepoSummary> {
    return this._updateRepo(await this._api.trustRepo(id, trusted));
  }

  // -- Hugging Face models -------------------------------------------------------------------

  searchModels(
    options: { search?: string; limit?: number; task?: string },
    signal?: AbortSignal
  ): Promise<IModelSummary[]> {
    return this._api.searchModels(options, signal);
  }

  getModel(modelId: string, signal?: AbortSignal): Promise<IModelInfo> {
    return this._api.getModel(modelId, signal);
  }

  // -- secrets -------------------------------------------------------------------------------

  get secrets(): ReadonlyArray<ISecretInfo> | null {
    return this._secrets;
  }

  get secretsChanged(): ISignal<ICookbook, ReadonlyArray<ISecretInfo> | null> {
    return this._secretsChanged;
  }

  async refreshSecrets(
    signal?: AbortSignal
  ): Promise<ReadonlyArray<ISecretInfo>> {
    const secrets = (await this._api.listSecrets(signal))
      .filter(s => s && typeof s.name === 'string')
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this._secrets = secrets;
    this._secretsChanged.emit(secrets);
    return secrets;
  }

  async setSecret(name: string, value: string): Promise<ISecretInfo> {
    const saved = await this._api.setSecret(name, value);
    this._afterSecretChange();
    return saved;
  }

  async deleteSecret(name: string): Promise<void> {
    try {
      await this._api.deleteSecret(name);
    } catch (error) {
      if (error instanceof CookbookAPIError && error.status === 404) {
        // Already gone (another tab): the list catches up.
        this._afterSecretChange();
      }
      throw error;
    }
    this._afterSecretChange();
  }

  // -- generations ---------------------------------------------------------------------------

  get generations(): ReadonlyArray<Generation> {
    return this._runner.generations;
  }

  get(id: string): Generation | undefined {
    return this._runner.get(id);
  }

  latest(): Generation | undefined {
    return this._runner.latest();
  }

  get generationStarted(): ISignal<ICookbook, ILiveGeneration> {
    return this._generationStarted;
  }

  get generationChanged(): ISignal<ICookbook, ILiveGeneration> {
    return this._generationChanged;
  }

  get eventsReceived(): ISignal<ICookbook, IEventsReceived> {
    return this._eventsReceived;
  }

  get cellsInserted(): ISignal<ICookbook, ICellsInserted> {
    return this._cellsInserted;
  }

  get generationFinished(): ISignal<ICookbook, ILiveGeneration> {
    return this._generationFinished;
  }

  get offers(): ReadonlyArray<IPendingOffer> {
    return this._runner.offers;
  }

  get insertionMetrics(): ReadonlyArray<IInsertionMetric> {
    return this._runner.insertionMetrics;
  }

  /**
   * Follow every generation left unsettled before the page loaded, and put
   * back the cells a reload lost in notebooks already open.
   */
  restore(): void {
    this._runner.restore();
  }

  startGeneration(request: StartRequest, target?: string): Promise<Generation> {
    return this._runner.start(request, target);
  }

  cancel(id: string): Promise<void> {
    return this._runner.cancel(id);
  }

  async answerApproval(
    id: string,
    approvalId: string,
    approved: boolean,
    trust = false
  ): Promise<void> {
    const asked = this._runner
      .get(id)
      ?.progress.approvals.find(a => a.approvalId === approvalId);
    await this._runner.answerApproval(id, approvalId, approved, trust);
    const repoId = trust ? asked?.repo?.id : undefined;
    if (repoId) {
      // The server trusted it: the repository's summary changes.
      this.getRepo(repoId).catch(() => {
        /* the next ingest or reload shows it */
      });
    }
  }

  view(id: string): Generation {
    return this._runner.view(id);
  }

  history(signal?: AbortSignal): Promise<IGeneration[]> {
    return this._api.listGenerations(signal);
  }

  insertInto(id: string, target?: string): Promise<number> {
    return this._runner.insertInto(id, target);
  }

  download(id: string): Promise<string> {
    return downloadNotebook(this._api, id);
  }

  acceptOffer(id: string): Promise<number> {
    return this._runner.acceptOffer(id);
  }

  discardOffer(id: string): void {
    this._runner.discardOffer(id);
  }

  // -- settings ------------------------------------------------------------------------------

  get settings(): ICookbookSettings {
    return this._settings.value;
  }

  get settingsChanged(): ISignal<ICookbook, ICookbookSettings> {
    return this._settingsChanged;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._runner.dispose();
    this._settings.changed.disconnect(this._onSettings, this);
    Signal.clearData(this);
  }

  private _updateRepo(repo: IRepoSummary): IRepoSummary {
    this._knownRepos.set(repo.id, repo);
    const known = this._repos.some(r => r.id === repo.id);
    this._repos = known
      ? this._repos.map(r => (r.id === repo.id ? repo : r))
      : [repo, ...this._repos];
    this._reposChanged.emit(this._repos);
    return repo;
  }

  /** The providers' keys, and the secrets a generation may use, may have changed. */
  private _afterSecretChange(): void {
    const ignore = () => {
      /* the last answer stays; the next change asks again */
    };
    this.refreshSecrets().catch(ignore);
    this.refreshStatus().catch(ignore);
  }

  private _onSettings(_: SettingsModel, settings: ICookbookSettings): void {
    this._settingsChanged.emit(settings);
  }

  private _api: CookbookAPI;
  private _settings: SettingsModel;
  private _runner: GenerationRunner;
  private _status: IStatus | null = null;
  private _recipes: ReadonlyArray<IRecipe> | null = null;
  private _repos: ReadonlyArray<IRepoSummary> = [];
  /** Every repository seen, even one a later list left out (the panel's choice). */
  private _knownRepos = new Map<string, IRepoSummary>();
  private _secrets: ReadonlyArray<ISecretInfo> | null = null;
  private _disposed = false;
  private _statusChanged = new Signal<ICookbook, IStatus | null>(this);
  private _recipesChanged = new Signal<
    ICookbook,
    ReadonlyArray<IRecipe> | null
  >(this);
  private _reposChanged = new Signal<ICookbook, ReadonlyArray<IRepoSummary>>(
    this
  );
  private _secretsChanged = new Signal<
    ICookbook,
    ReadonlyArray<ISecretInfo> | null
  >(this);
  private _generationStarted = new Signal<ICookbook, ILiveGeneration>(this);
  private _generationChanged = new Signal<ICookbook, ILiveGeneration>(this);
  private _eventsReceived = new Signal<ICookbook, IEventsReceived>(this);
  private _cellsInserted = new Signal<ICookbook, ICellsInserted>(this);
  private _generationFinished = new Signal<ICookbook, ILiveGeneration>(this);
  private _settingsChanged = new Signal<ICookbook, ICookbookSettings>(this);
}

export namespace CookbookModel {
  export interface IOptions {
    /** The open notebooks generations go into. */
    notebooks: INotebookHost;
    /** The REST client (default: one for `serverSettings`). */
    api?: CookbookAPI;
    serverSettings?: ServerConnection.ISettings;
    /** Where generations are remembered across reloads (null: nowhere). */
    storage?: IKeyValueStore | null;
    /** The user's settings (default: the defaults). */
    settings?: SettingsModel;
    /** Long-poll timeout, seconds. */
    pollTimeout?: number;
    /** Retry delays after network failures. */
    backoff?: IBackoff;
  }
}
