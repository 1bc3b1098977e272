/**
 * Typed client for the Cookbook server extension's REST API (`/cookbook/...`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import type * as nbformat from '@jupyterlab/nbformat';
import { ServerConnection } from '@jupyterlab/services';

/** The path segment every Cookbook endpoint lives under. */
export const API_NAMESPACE = 'cookbook';

export type Complexity = 'basic' | 'intermediate' | 'advanced';

export type GenerationStatus =
  | 'pending'
  | 'queued'
  | 'running'
  | 'cancelling'
  | 'finished'
  | 'failed'
  | 'cancelled'
  | 'interrupted'
  | string;

/**
 * The statuses after which a generation changes no more, as the server
 * defines them (`cookbook_ext/store` `TERMINAL_STATUSES`). The first three
 * also end a generation's event stream as events; `interrupted` (the server
 * stopped during the run) is only ever a status.
 */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'finished',
  'failed',
  'cancelled',
  'interrupted'
]);

/** Whether a status (or an event type) is terminal: nothing follows it. */
export function isTerminalStatus(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

export interface IProviderInfo {
  name: string;
  available: boolean;
  default_model?: string | null;
  configured?: boolean;
  display_name?: string | null;
  /**
   * Whether it calls a language model (false for offline: it builds from the
   * repository's examples and the model card's snippets; no tokens, no cost).
   */
  uses_model?: boolean;
}

export interface IStatus {
  version: string;
  providers: IProviderInfo[];
  default_provider: string;
  api_key_configured: boolean;
}

export interface IExampleInfo {
  path: string;
  title?: string;
  kind?: string;
}

export interface IHfIdMention {
  id: string;
  count?: number;
  score?: number;
}

export interface IContextSummary {
  total_tokens: number;
  budget: number;
  sections?: unknown;
}

export interface IRepoSummary {
  id: string;
  source: string;
  kind?: string;
  url?: string | null;
  ref?: string | null;
  commit?: string | null;
  name: string;
  metadata?: Record<string, unknown>;
  stats?: Record<string, unknown>;
  dependencies?: unknown;
  examples?: IExampleInfo[];
  hf_ids?: IHfIdMention[];
  readmes?: { path: string }[];
  files_count?: number;
  context?: IContextSummary;
  warnings?: unknown[];
  /**
   * Whether the user trusts this repository. Until they do, code taken from
   * it (or from its model card) runs only with their approval, whatever the
   * approval mode.
   */
  trusted: boolean;
  /** When the user trusted it, epoch seconds; null while untrusted. */
  trusted_at: number | null;
}

export interface IRepoFile {
  path: string;
  content: string;
  [key: string]: unknown;
}

export interface IContextPack {
  markdown: string;
  sections?: unknown;
  total_tokens: number;
  budget: number;
}

export interface IModelSummary {
  id: string;
  downloads?: number | null;
  likes?: number | null;
  pipeline_tag?: string | null;
  library_name?: string | null;
  license?: string | null;
  last_modified?: string | null;
}

export interface IModelCard {
  description?: string | null;
  usage?: string | null;
  limitations?: string | null;
}

export interface IModelInfo extends IModelSummary {
  author?: string | null;
  card?: IModelCard | null;
  stale?: boolean;
  [key: string]: unknown;
}

/** The kinds of value a recipe input takes (and the form field it gets). */
export type RecipeInputType =
  | 'string'
  | 'text'
  | 'number'
  | 'boolean'
  | 'choice'
  | 'array<string>'
  | 'hf_model'
  | 'path';

export interface IRecipeInput {
  name?: string;
  /** The field's label (else its name). */
  label?: string;
  title?: string;
  type?: RecipeInputType | string;
  required?: boolean;
  default?: unknown;
  description?: string;
  choices?: string[];
  /** number: the least value; string, text: the least length; array: the fewest items. */
  min?: number | null;
  max?: number | null;
  [key: string]: unknown;
}

export interface IRecipe {
  id: string;
  title: string;
  version?: string;
  description?: string;
  /** A list of inputs (named), or a mapping of name to input; old servers: names only. */
  inputs?: (IRecipeInput | string)[] | Record<string, IRecipeInput>;
  /** Where the recipe comes from (built in, the user's folder, a pack). */
  source?: string;
}

/** A recipe file the server could not load. */
export interface IRecipeError {
  file: string;
  line?: number | null;
  message: string;
}

/** `GET cookbook/recipes`. */
export interface IRecipeList {
  recipes: IRecipe[];
  errors: IRecipeError[];
}

export interface IGenerationRequest {
  repo_id?: string;
  source?: string;
  /** With `source`: the branch, tag or commit. */
  ref?: string;
  hf_model_id?: string;
  prompt: string;
  template: string;
  /**
   * The recipe's version, pinned (the server's stored request has it): 409
   * `recipe_version_unavailable` once it is gone. Default: the current one.
   */
  template_version?: string;
  topic?: string;
  complexity: Complexity;
  kernel_id?: string;
  provider?: string;
  model?: string;
  /** The template's extra inputs. */
  data_path?: string;
  compare_with?: string;
  /** When to ask before running a cell; the server's default when omitted. */
  approval?: 'never' | 'risky' | 'always';
  /**
   * Names of stored secrets the kernel may see, chosen by the user (the
   * server picks none by itself).
   */
  secrets?: string[];
  /** Leave the chosen secrets in the user's kernel afterwards (else Cookbook removes them). */
  keep_secrets?: boolean;
  /** Trust the repository for this generation: its code runs without asking first. */
  trust?: boolean;
  /** The recipe's own typed inputs, by name (beyond the fields above). */
  inputs?: Record<string, unknown>;
  /**
   * A follow-up: the generation it continues (its repository, recipe and
   * models are inherited) and the notebook as it is now.
   */
  parent_id?: string;
  notebook_cells?: INotebookCellSnapshot[];
  /** The user's notebook under the root (the fresh-kernel check runs beside it). */
  notebook_path?: string;
}

/**
 * A follow-up (`POST cookbook/generations` with `parent_id`): its
 * repository, recipe and models are its parent's.
 */
export interface IFollowUpRequest {
  parent_id: string;
  prompt: string;
  notebook_cells: INotebookCellSnapshot[];
  kernel_id?: string;
  approval?: 'never' | 'risky' | 'always';
  secrets?: string[];
  keep_secrets?: boolean;
  notebook_path?: string;
}

/** One cell of the user's notebook, as a follow-up's agent sees it. */
export interface INotebookCellSnapshot {
  /** Its nbformat id: what `cell_validated.replaces` names. */
  id: string;
  cell_type: string;
  source: string;
  /** Its outputs as short text. */
  outputs_text: string;
  /** The user wrote or changed it (replacing it asks first). */
  edited: boolean;
}

/** A next step a failed (or empty) run offers as a button. */
export interface INextStep {
  action:
    | 'install_and_retry'
    | 'show_attempts'
    | 'try_provider'
    | 'trust_repository'
    | string;
  label: string;
  packages?: string[];
  provider?: string;
  repo_id?: string;
}

/** The fresh-kernel re-run after a generation (the `verified` event). */
export interface IVerification {
  status: 'passed' | 'failed' | 'skipped' | string;
  failed_cell?: number | null;
  cell_id?: string | null;
  error?: { ename?: string; evalue?: string } | string | null;
  seconds?: number | null;
  reason?: string | null;
}

/** Whose code a cell waiting for approval is. */
export type CodeOrigin = 'repository' | 'model_card' | 'model';

/** The data of an `approval_required` event. */
export interface IApprovalRequired {
  approval_id: string;
  cell_id: string;
  source: string;
  reasons: string[];
  origin: CodeOrigin;
  /** Code from a repository (or its model card) the user has not trusted. */
  untrusted: boolean;
  /** The repository to trust, when the code is untrusted. */
  repo: { id: string; label: string } | null;
}

/** The server's answer to an approval. */
export interface IApprovalAnswer {
  approval_id: string;
  approved: boolean;
  /** Whether the repository is now trusted. */
  trusted?: boolean;
}

export interface IUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  cost_usd?: number | null;
  turns?: number;
}

/** The recipe a generation was made with, as the generation records it. */
export interface IRecipeRef {
  id: string;
  version: string;
  /** sha256 of its rendered instructions. */
  sha256?: string;
  /** Built in, a pack, the user's folder, an administrator's folder. */
  source?: string;
  pack?: string | null;
}

export interface IGeneration {
  id: string;
  status: GenerationStatus;
  request?: Partial<IGenerationRequest> & Record<string, unknown>;
  created_at?: string | number | null;
  finished_at?: string | number | null;
  usage?: IUsage | null;
  cells?: nbformat.ICell[] | number | null;
  /** How many cells it kept (history entries). */
  cells_count?: number | null;
  message?: string | null;
  provider?: string | null;
  model?: string | null;
  /** The repository's name and the recipe (history entries). */
  repo_name?: string | null;
  template?: string | null;
  /** The recipe that made it: its id, version and the hash of its rendered instructions. */
  recipe?: IRecipeRef | null;
  /** The generation a follow-up continues, and its own follow-ups. */
  parent_id?: string | null;
  children?: Array<string | { id: string }> | null;
  /** The fresh-kernel re-run, once done. */
  verification?: IVerification | null;
  /** What the notebook records about it (history entries carry the re-run check here). */
  provenance?: { verification?: IVerification | null } & Record<
    string,
    unknown
  >;
  /** Why a failed or empty run ended, and what the user can do. */
  cause?: string | null;
  next_steps?: INextStep[] | null;
}

export interface ICookbookEvent<T = any> {
  seq: number;
  type: string;
  data: T;
  /** Server time the event was emitted, epoch seconds. */
  ts: number;
}

export interface IEventsPage {
  events: ICookbookEvent[];
  done: boolean;
}

/** One run of a comparison (`GET cookbook/comparisons/{id}`). */
export interface IComparisonRun {
  index: number;
  provider: string;
  model?: string | null;
  generation_id: string;
  status: GenerationStatus;
  message?: string | null;
  cells_count: number;
  verification?: IVerification | null;
  turns?: number;
  tokens?: Record<string, number>;
  cost_usd?: number;
  seconds_to_first_cell?: number | null;
  seconds_to_notebook?: number | null;
  notebook_url?: string;
}

/** One recipe run by 2 to 4 providers or models, side by side. */
export interface IComparison {
  id: string;
  status: GenerationStatus;
  created_at: number;
  request?: Record<string, unknown>;
  runs: IComparisonRun[];
}

/** `POST cookbook/comparisons`: a generation request whose runs name the provider and model. */
export type IComparisonRequest = Omit<
  IGenerationRequest,
  | 'kernel_id'
  | 'provider'
  | 'model'
  | 'keep_secrets'
  | 'parent_id'
  | 'notebook_cells'
> & { runs: Array<{ provider: string; model?: string }> };

/** One catalogue index as the server last read it (`GET cookbook/catalog`). */
export interface ICatalogInfo {
  url: string;
  /** Whether it could be read; when not, `error` says why (installed packs keep working). */
  ok: boolean;
  error?: string | null;
  /** The server's error code when it could not be read (e.g. `catalog_unreachable`). */
  code?: string;
  /** How many packs it lists. */
  packs: number;
}

/**
 * A pack's state: `available` (listed, not installed), `installed` (up to
 * date, or no catalogue lists it now) or `update` (a newer version is listed).
 */
export type PackState = 'available' | 'installed' | 'update';

/** A pack of recipes, installed or listed by a catalogue. */
export interface IPackInfo {
  id: string;
  description: string;
  /** The ids of the recipes it holds. */
  recipes: string[];
  state: PackState;
  installed_version: string | null;
  available_version: string | null;
  /** The catalogue it comes from. */
  catalog: string | null;
  /** Whether a catalogue lists it now. */
  listed: boolean;
}

/** The answer to an install or update: the pack's state now. */
export interface IPackChange extends IPackInfo {
  /** False when the update found nothing newer. */
  changed: boolean;
}

/** `GET cookbook/catalog`: every catalogue and every pack, installed or available. */
export interface ICatalogState {
  catalogs: ICatalogInfo[];
  packs: IPackInfo[];
}

/** A stored secret as the server describes it: never its value. */
export interface ISecretInfo {
  name: string;
  /** A masked hint (e.g. `…WXYZ`), enough to tell two keys apart. */
  hint?: string | null;
  /** When it was last saved: epoch seconds (or an ISO date). */
  updated_at?: number | string | null;
  /** The server's key cannot decrypt it (the key was replaced): it cannot be used. */
  unreadable?: boolean;
}

/**
 * An error the server answered with (non-2xx). `message` is the server's
 * human-readable message, safe to show to the user.
 */
export class CookbookAPIError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** What the server said beyond the message (its body's `details`), e.g. the versions there are. */
    readonly details: Readonly<Record<string, unknown>> = {}
  ) {
    super(message);
    this.name = 'CookbookAPIError';
  }
}

/** Whether an error is worth retrying (the network, or the server was briefly unwell). */
export function isTransientError(error: unknown): boolean {
  if (error instanceof CookbookAPIError) {
    return (
      error.status === 0 ||
      error.status === 408 ||
      error.status === 429 ||
      error.status === 502 ||
      error.status === 503 ||
      error.status === 504
    );
  }
  if (error instanceof ServerConnection.ResponseError) {
    return error.response.status >= 500 || error.response.status === 429;
  }
  if (isAbortError(error)) {
    return false;
  }
  // ServerConnection.NetworkError, TypeError from fetch, anything unexpected.
  return true;
}

export function isAbortError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: string }).name === 'AbortError'
  );
}

/** Best human-readable message for any error thrown by the client. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

export interface IRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  signal?: AbortSignal;
}

/**
 * The Cookbook REST client. Every call goes through
 * `ServerConnection.makeRequest`, so it carries the XSRF token and the
 * server's auth headers.
 */
export class CookbookAPI {
  constructor(options: CookbookAPI.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** The absolute URL of an endpoint (useful for downloads). */
  url(
    path: string,
    query?: Record<string, string | number | undefined | null>
  ): string {
    const base = URLExt.join(this.serverSettings.baseUrl, API_NAMESPACE, path);
    const params = Object.entries(query ?? {})
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(
        ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`
      );
    return params.length ? `${base}?${params.join('&')}` : base;
  }

  /** Low-level request: JSON in, JSON out, `CookbookAPIError` on non-2xx. */
  async request<T>(path: string, options: IRequestOptions = {}): Promise<T> {
    const init: RequestInit = { method: options.method ?? 'GET' };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    if (options.signal) {
      init.signal = options.signal;
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path, options.query),
        init,
        this.serverSettings
      );
    } catch (error) {
      if (isAbortError(error)) {
        throw error;
      }
      const cause = error instanceof Error ? error.message : String(error);
      throw new CookbookAPIError(0, 'network_error', cause);
    }
    const text = await response.text();
    let data: any = null;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const body = data && typeof data === 'object' ? data : {};
      const message =
        (typeof body.message === 'string' && body.message) ||
        (typeof data === 'string' && data.length < 500 && data) ||
        response.statusText ||
        `HTTP ${response.status}`;
      const code =
        (typeof body.code === 'string' && body.code) ||
        `http_${response.status}`;
      const details =
        body.details && typeof body.details === 'object' ? body.details : {};
      throw new CookbookAPIError(response.status, code, message, details);
    }
    return data as T;
  }

  status(signal?: AbortSignal): Promise<IStatus> {
    return this.request<IStatus>('status', { signal });
  }

  /** Ingest a repository; `trust` trusts it at once (its code may run without asking). */
  ingest(
    source: string,
    ref?: string,
    signal?: AbortSignal,
    trust?: boolean
  ): Promise<IRepoSummary> {
    const body: { source: string; ref?: string; trust?: boolean } = { source };
    if (ref) {
      body.ref = ref;
    }
    if (trust) {
      body.trust = true;
    }
    return this.request<IRepoSummary>('repos', {
      method: 'POST',
      body,
      signal
    });
  }

  async listRepos(signal?: AbortSignal): Promise<IRepoSummary[]> {
    const data = await this.request<{ repos: IRepoSummary[] }>('repos', {
      signal
    });
    return data.repos ?? [];
  }

  getRepo(id: string, signal?: AbortSignal): Promise<IRepoSummary> {
    return this.request<IRepoSummary>(`repos/${encodeURIComponent(id)}`, {
      signal
    });
  }

  /** Trust a repository (its code runs without asking first) or stop trusting it. */
  trustRepo(
    id: string,
    trusted: boolean,
    signal?: AbortSignal
  ): Promise<IRepoSummary> {
    return this.request<IRepoSummary>(`repos/${encodeURIComponent(id)}/trust`, {
      method: 'PUT',
      body: { trusted },
      signal
    });
  }

  getRepoFile(
    id: string,
    path: string,
    signal?: AbortSignal
  ): Promise<IRepoFile> {
    return this.request<IRepoFile>(`repos/${encodeURIComponent(id)}/files`, {
      query: { path },
      signal
    });
  }

  getRepoContext(id: string, signal?: AbortSignal): Promise<IContextPack> {
    return this.request<IContextPack>(
      `repos/${encodeURIComponent(id)}/context`,
      { signal }
    );
  }

  async searchModels(
    options: { search?: string; limit?: number; task?: string } = {},
    signal?: AbortSignal
  ): Promise<IModelSummary[]> {
    const data = await this.request<{ models: IModelSummary[] }>('models', {
      query: {
        search: options.search,
        limit: options.limit,
        task: options.task
      },
      signal
    });
    return data.models ?? [];
  }

  /** One model's metadata; `modelId` is `owner/name` (or a bare name). */
  getModel(modelId: string, signal?: AbortSignal): Promise<IModelInfo> {
    const path = modelId
      .split('/')
      .map(part => encodeURIComponent(part))
      .join('/');
    return this.request<IModelInfo>(`models/${path}`, { signal });
  }

  /** The recipes, and the recipe files the server could not load. */
  async listRecipes(signal?: AbortSignal): Promise<IRecipeList> {
    const data = await this.request<Partial<IRecipeList>>('recipes', {
      signal
    });
    return {
      recipes: Array.isArray(data?.recipes) ? data.recipes : [],
      errors: Array.isArray(data?.errors) ? data.errors : []
    };
  }

  startGeneration(
    request: IGenerationRequest,
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return this._start('generations', request, signal);
  }

  /** Continue a generation (see `IFollowUpRequest`). */
  startFollowUp(
    request: IFollowUpRequest,
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return this._start('generations', request, signal);
  }

  async listGenerations(signal?: AbortSignal): Promise<IGeneration[]> {
    const data = await this.request<{ generations: IGeneration[] }>(
      'generations',
      { signal }
    );
    return data.generations ?? [];
  }

  getGeneration(id: string, signal?: AbortSignal): Promise<IGeneration> {
    return this.request<IGeneration>(`generations/${encodeURIComponent(id)}`, {
      signal
    });
  }

  /**
   * Long-poll the generation's events after sequence number `after`.
   * Returns at once when events exist, else after up to `timeout` seconds.
   */
  events(
    id: string,
    after: number,
    timeout?: number,
    signal?: AbortSignal
  ): Promise<IEventsPage> {
    return this.request<IEventsPage>(
      `generations/${encodeURIComponent(id)}/events`,
      { query: { after, timeout }, signal }
    );
  }

  cancelGeneration(id: string): Promise<unknown> {
    return this.request<unknown>(
      `generations/${encodeURIComponent(id)}/cancel`,
      { method: 'POST', body: {} }
    );
  }

  /**
   * Answer a cell's `approval_required` event: run it (true) or skip it.
   * `trust` (with `approved`) is "Trust this repository and run": the server
   * trusts the repository and runs the rest of its code without asking.
   */
  answerApproval(
    id: string,
    approvalId: string,
    approved: boolean,
    trust?: boolean
  ): Promise<IApprovalAnswer> {
    if (trust && !approved) {
      // The server refuses it (422): trusting a repository runs its code.
      return Promise.reject(
        new Error('Trusting a repository goes with running its code.')
      );
    }
    return this.request<IApprovalAnswer>(
      `generations/${encodeURIComponent(id)}/approvals/${encodeURIComponent(approvalId)}`,
      { method: 'POST', body: trust ? { approved, trust } : { approved } }
    );
  }

  /**
   * The URL of a generation's validated notebook (served as an attachment);
   * `outputs: 'clear'` asks for it without outputs.
   */
  notebookUrl(id: string, outputs?: 'keep' | 'clear'): string {
    return this.url(`generations/${encodeURIComponent(id)}/notebook`, {
      outputs
    });
  }

  /** A generation's validated notebook, as nbformat JSON. */
  getNotebook(
    id: string,
    signal?: AbortSignal,
    outputs?: 'keep' | 'clear'
  ): Promise<nbformat.INotebookContent> {
    return this.request<nbformat.INotebookContent>(
      `generations/${encodeURIComponent(id)}/notebook`,
      { signal, query: { outputs } }
    );
  }

  /**
   * The recipe catalogues and their packs (the server reads every index
   * now, so it can take a while); a catalogue that cannot be read is listed
   * with its error.
   */
  async listCatalog(signal?: AbortSignal): Promise<ICatalogState> {
    const data = await this.request<Partial<ICatalogState>>('catalog', {
      signal
    });
    return {
      catalogs: Array.isArray(data?.catalogs) ? data.catalogs : [],
      packs: Array.isArray(data?.packs) ? data.packs : []
    };
  }

  /** Download a pack from its catalogue and install its recipes. */
  installPack(id: string, signal?: AbortSignal): Promise<IPackChange> {
    return this._packChange(id, 'install', signal);
  }

  /** Bring an installed pack to the version its catalogue lists. */
  updatePack(id: string, signal?: AbortSignal): Promise<IPackChange> {
    return this._packChange(id, 'update', signal);
  }

  private _packChange(
    id: string,
    action: 'install' | 'update',
    signal?: AbortSignal
  ): Promise<IPackChange> {
    return this.request<IPackChange>(
      `catalog/${encodeURIComponent(id)}/${action}`,
      { method: 'POST', body: {}, signal }
    );
  }

  /** Remove an installed pack and its recipes. */
  async removePack(id: string, signal?: AbortSignal): Promise<void> {
    await this.request<null>(`catalog/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      signal
    });
  }

  /** Start a comparison: the same recipe run by each of `runs`, each in a kernel of its own. */
  startComparison(
    request: IComparisonRequest,
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return this._start('comparisons', request, signal);
  }

  /** POST a request that starts something; the server answers with its id. */
  private _start(
    path: string,
    body: unknown,
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return this.request<{ id: string }>(path, { method: 'POST', body, signal });
  }

  getComparison(id: string, signal?: AbortSignal): Promise<IComparison> {
    return this.request<IComparison>(`comparisons/${encodeURIComponent(id)}`, {
      signal
    });
  }

  /** The user's secrets: names, masked hints and times, never values. */
  async listSecrets(signal?: AbortSignal): Promise<ISecretInfo[]> {
    const data = await this.request<{ secrets: ISecretInfo[] }>('secrets', {
      signal
    });
    return data?.secrets ?? [];
  }

  /**
   * Save (add or replace) a secret. The value goes to the server and is never
   * returned; the answer carries the name and a masked hint only.
   */
  setSecret(
    name: string,
    value: string,
    signal?: AbortSignal
  ): Promise<ISecretInfo> {
    return this.request<ISecretInfo>(`secrets/${encodeURIComponent(name)}`, {
      method: 'PUT',
      body: { value },
      signal
    });
  }

  async deleteSecret(name: string, signal?: AbortSignal): Promise<void> {
    await this.request<null>(`secrets/${encodeURIComponent(name)}`, {
      method: 'DELETE',
      signal
    });
  }
}

export namespace CookbookAPI {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }
}
