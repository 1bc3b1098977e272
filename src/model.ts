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
  ICatalogState,
  IComparison,
  IComparisonRequest,
  IGeneration,
  IModelInfo,
  IModelSummary,
  IPackChange,
  IRecipe,
  IRecipeError,
  IRepoSummary,
  ISecretInfo,
  IStatus
} from './api';
import { withoutPack, withPack } from './catalog';
import { downloadNotebook } from './download';
import type { IBackoff } from './events';
import type { Generation } from './generation';
import { runAgainRequest } from './history';
import type { INotebookHost } from './notebookHost';
import type { IKeyValueStore } from './persistence';
import { GenerationRunner } from './runner';
import { ICookbookSettings, SettingsModel } from './settings';
import type { ReplaceDecision } from './notebook';
import type {
  ICellsInserted,
  ICookbook,
  IEventsReceived,
  IFollowUpOptions,
  IIngestOptions,
  IInsertionMetric,
  IInsertOptions,
  ILiveGeneration,
  IPendingApproval,
  IPendingOffer,
  IPreviousRun,
  IRunAgainOptions,
  IStartOptions,
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

  get recipeErrors(): ReadonlyArray<IRecipeError> {
    return this._recipeErrors;
  }

  async refreshRecipes(signal?: AbortSignal): Promise<ReadonlyArray<IRecipe>> {
    const { recipes, errors } = await this._api.listRecipes(signal);
    this._recipes = recipes;
    this._recipeErrors = errors;
    this._recipesChanged.emit(recipes);
    return recipes;
  }

  // -- recipe catalogues ---------------------------------------------------------------------

  get catalog(): ICatalogState | null {
    return this._catalog;
  }

  get catalogChanged(): ISignal<ICookbook, ICatalogState | null> {
    return this._catalogChanged;
  }

  async refreshCatalog(signal?: AbortSignal): Promise<ICatalogState> {
    const catalog = await this._api.listCatalog(signal);
    this._setCatalog(catalog);
    return catalog;
  }

  installPack(id: string): Promise<IPackChange> {
    return this._changePack(id, () => this._api.installPack(id));
  }

  updatePack(id: string): Promise<IPackChange> {
    return this._changePack(id, () => this._api.updatePack(id));
  }

  async removePack(id: string): Promise<void> {
    try {
      await this._api.removePack(id);
    } catch (error) {
      if (error instanceof CookbookAPIError && error.status === 404) {
        // Removed already (another tab): show it so, then say what the server said.
        await this._afterPackChange(c => withoutPack(c, id));
      }
      throw error;
    }
    await this._afterPackChange(c => withoutPack(c, id));
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

  startGeneration(
    request: StartRequest,
    target?: string,
    options?: IStartOptions
  ): Promise<Generation> {
    return this._runner.start(request, target, options);
  }

  followUp(
    parentId: string,
    prompt: string,
    options?: IFollowUpOptions
  ): Promise<Generation> {
    return this._runner.followUp(parentId, prompt, options);
  }

  retry(id: string, overrides?: Partial<StartRequest>): Promise<Generation> {
    return this._runner.retry(id, overrides);
  }

  async runAgain(
    id: string,
    options: IRunAgainOptions = {}
  ): Promise<Generation> {
    // The server's stored request: it pins the recipe version this browser may not know.
    const past = await this._api.getGeneration(id);
    const request = runAgainRequest(past, {
      templateVersion: options.templateVersion
    });
    if (!request) {
      throw new Error('What this generation was asked for is not known.');
    }
    return this._runner.start(
      { ...request, secrets: options.secrets ?? [] },
      options.target,
      { placement: options.placement, replacePrevious: false }
    );
  }

  installAndRetry(id: string, packages: string[]): Promise<Generation> {
    return this._runner.installAndRetry(id, packages);
  }

  answerReplacement(
    id: string,
    cellId: string,
    decision: ReplaceDecision
  ): void {
    this._runner.answerReplacement(id, cellId, decision);
  }

  removeCells(id: string, target?: string): number {
    return this._runner.removeCells(id, target);
  }

  previousRun(path: string): IPreviousRun | null {
    return this._runner.previousRun(path);
  }

  pendingApprovals(): IPendingApproval[] {
    return this._runner.pendingApprovals();
  }

  getGeneration(id: string, signal?: AbortSignal): Promise<IGeneration> {
    return this._api.getGeneration(id, signal);
  }

  startComparison(
    request: StartRequest,
    runs: ReadonlyArray<{ provider: string; model?: string }>
  ): Promise<{ id: string }> {
    // The runs name the provider and model; each runs in a kernel of its own.
    const base: Record<string, unknown> = { ...request };
    for (const key of [
      'provider',
      'model',
      'keep_secrets',
      'kernel_id',
      'parent_id',
      'notebook_cells'
    ]) {
      delete base[key];
    }
    return this._api.startComparison({
      ...(base as IComparisonRequest),
      runs: runs.map(r => (r.model ? { ...r } : { provider: r.provider }))
    });
  }

  getComparison(id: string, signal?: AbortSignal): Promise<IComparison> {
    return this._api.getComparison(id, signal);
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

  insertInto(
    id: string,
    target?: string,
    options?: IInsertOptions
  ): Promise<number> {
    return this._runner.insertInto(id, target, options);
  }

  download(id: string, outputs?: 'keep' | 'clear'): Promise<string> {
    return downloadNotebook(this._api, id, outputs);
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

  private _setCatalog(catalog: ICatalogState): void {
    this._catalog = catalog;
    this._catalogChanged.emit(catalog);
  }

  private async _changePack(
    id: string,
    change: () => Promise<IPackChange>
  ): Promise<IPackChange> {
    let pack: IPackChange;
    try {
      pack = await change();
    } catch (error) {
      if (error instanceof CookbookAPIError && error.status === 409) {
        // Installed or removed elsewhere (another tab, the CLI): the list catches up.
        this.refreshCatalog().catch(() => {
          /* the section's Refresh asks again */
        });
      }
      throw error;
    }
    await this._afterPackChange(c => withPack(c, pack));
    return pack;
  }

  /** The catalogue as the change left it, and the recipes it added or took away. */
  private async _afterPackChange(
    update: (catalog: ICatalogState) => ICatalogState
  ): Promise<void> {
    if (this._catalog) {
      this._setCatalog(update(this._catalog));
    }
    try {
      await this.refreshRecipes();
    } catch {
      // The pack changed all the same; the recipes show on the next refresh.
    }
  }

  private _onSettings(_: SettingsModel, settings: ICookbookSettings): void {
    this._settingsChanged.emit(settings);
  }

  private _api: CookbookAPI;
  private _settings: SettingsModel;
  private _runner: GenerationRunner;
  private _status: IStatus | null = null;
  private _recipes: ReadonlyArray<IRecipe> | null = null;
  private _recipeErrors: ReadonlyArray<IRecipeError> = [];
  private _catalog: ICatalogState | null = null;
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
  private _catalogChanged = new Signal<ICookbook, ICatalogState | null>(this);
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
