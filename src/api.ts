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

export interface IRecipeInput {
  name?: string;
  title?: string;
  [key: string]: unknown;
}

export interface IRecipe {
  id: string;
  title: string;
  description?: string;
  inputs?: (IRecipeInput | string)[];
}

export interface IGenerationRequest {
  repo_id?: string;
  source?: string;
  hf_model_id?: string;
  prompt: string;
  template: string;
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

export interface IGeneration {
  id: string;
  status: GenerationStatus;
  request?: Partial<IGenerationRequest> & Record<string, unknown>;
  created_at?: string | number | null;
  finished_at?: string | number | null;
  usage?: IUsage | null;
  cells?: nbformat.ICell[] | number | null;
  message?: string | null;
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
    message: string
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
      throw new CookbookAPIError(response.status, code, message);
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

  async listRecipes(signal?: AbortSignal): Promise<IRecipe[]> {
    const data = await this.request<{ recipes: IRecipe[] }>('recipes', {
      signal
    });
    return data.recipes ?? [];
  }

  startGeneration(
    request: IGenerationRequest,
    signal?: AbortSignal
  ): Promise<{ id: string }> {
    return this.request<{ id: string }>('generations', {
      method: 'POST',
      body: request,
      signal
    });
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

  /** The URL of a generation's validated notebook (served as an attachment). */
  notebookUrl(id: string): string {
    return this.url(`generations/${encodeURIComponent(id)}/notebook`);
  }

  /** A generation's validated notebook, as nbformat JSON. */
  getNotebook(
    id: string,
    signal?: AbortSignal
  ): Promise<nbformat.INotebookContent> {
    return this.request<nbformat.INotebookContent>(
      `generations/${encodeURIComponent(id)}/notebook`,
      { signal }
    );
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
