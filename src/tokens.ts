/**
 * Cookbook's public interface: the `ICookbook` service another extension
 * requires to start a generation or follow one, and the sidebar's token.
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type {
  ICookbookEvent,
  IGeneration,
  IGenerationRequest,
  IModelInfo,
  IModelSummary,
  IRecipe,
  IRepoSummary,
  ISecretInfo,
  IStatus
} from './api';
import type { StreamState } from './events';
import type { INotebookHost } from './notebookHost';
import type { IProgressState } from './progress';
import type { ICookbookSettings } from './settings';

/**
 * A generation as this browser follows it: what its events said so far, and
 * the notebook its cells go into.
 */
export interface ILiveGeneration {
  readonly id: string;
  /** The target notebook's path ('' for one viewed from the history). */
  readonly path: string;
  /** What the user asked for ('' for one viewed from the history). */
  readonly prompt: string;
  /** When this browser started it, epoch ms (0 for one viewed from the history). */
  readonly createdAt: number;
  /** Started from this browser: its validated cells go into `path`. */
  readonly local: boolean;
  /** Terminal, and every validated cell is in the notebook or was declined. */
  readonly settled: boolean;
  /** Steps, usage, status and open approvals, folded from its events. */
  readonly progress: IProgressState;
  readonly streamState: StreamState;
  /** A problem the user should see (the stream broke, an insertion failed). */
  readonly error: string | null;
  /** Browser time minus server time, seconds (for an elapsed clock). */
  readonly clockOffset: number | null;
}

/** Cells that waited for a closed target notebook: the user may insert them now. */
export interface IPendingOffer {
  generationId: string;
  path: string;
  count: number;
  /** Whether the target notebook is open (the cells can go in now). */
  open: boolean;
}

/** The payload of `ICookbook.eventsReceived`. */
export interface IEventsReceived {
  generation: ILiveGeneration;
  /** New events, in sequence order, already folded into `generation.progress`. */
  events: ICookbookEvent[];
}

/** The payload of `ICookbook.cellsInserted`. */
export interface ICellsInserted {
  generationId: string;
  /** The notebook the cells went into. */
  path: string;
  /** Cookbook cell ids (`metadata.cookbook.cell_id`) inserted or updated. */
  cellIds: string[];
}

/** How long one streamed cell took to reach the notebook (for benchmarks). */
export interface IInsertionMetric {
  generationId: string;
  cellId: string;
  /** Server time the event was emitted, epoch seconds. */
  ts: number;
  /** Browser time the event reached the model, epoch ms. */
  receivedAt: number;
  /** Browser time the cell was in the notebook model, epoch ms. */
  insertedAt: number;
}

/** Options of `ICookbook.ingest`. */
export interface IIngestOptions {
  /** Branch, tag or commit (the default branch when omitted). */
  ref?: string;
  /** Trust the repository at once: its code may run without asking. */
  trust?: boolean;
  signal?: AbortSignal;
}

/** A generation request; the kernel id is the target notebook's. */
export type StartRequest = Omit<IGenerationRequest, 'kernel_id'>;

/**
 * The Cookbook service: the server's state as Cookbook last saw it, the
 * generations this browser follows, and what can be done with them.
 *
 * Every REST call goes through it, so its signals tell about every change,
 * whoever made it (the panel, a command, another extension). Methods reject
 * with the server's message (`CookbookAPIError`) when it refuses.
 *
 * Code without the `Token` object (e.g. end-to-end tests) reaches it with
 * `window.galata.getPlugin('cookbook-ext:core')`.
 */
export interface ICookbook {
  // -- the server --------------------------------------------------------------------------

  /** Version, providers and whether a model API key is set; null until first asked. */
  readonly status: IStatus | null;
  readonly statusChanged: ISignal<ICookbook, IStatus | null>;
  /** Ask the server for its status again. */
  refreshStatus(signal?: AbortSignal): Promise<IStatus>;

  /** The recipe templates the server offers; null until first asked. */
  readonly recipes: ReadonlyArray<IRecipe> | null;
  readonly recipesChanged: ISignal<ICookbook, ReadonlyArray<IRecipe> | null>;
  refreshRecipes(signal?: AbortSignal): Promise<ReadonlyArray<IRecipe>>;

  // -- repositories ------------------------------------------------------------------------

  /** The repositories ingested on the server, as last listed (with those ingested since). */
  readonly repos: ReadonlyArray<IRepoSummary>;
  /** Emitted when a repository was listed, ingested, or its trust changed. */
  readonly reposChanged: ISignal<ICookbook, ReadonlyArray<IRepoSummary>>;
  /** The last known summary of a repository this service has seen. */
  repo(id: string): IRepoSummary | undefined;
  refreshRepos(signal?: AbortSignal): Promise<ReadonlyArray<IRepoSummary>>;
  getRepo(id: string, signal?: AbortSignal): Promise<IRepoSummary>;
  /** Ingest a GitHub URL or a folder under the Jupyter root. */
  ingest(source: string, options?: IIngestOptions): Promise<IRepoSummary>;
  /**
   * Trust a repository (its code runs under the usual approval setting) or
   * stop trusting it (its code asks before it runs).
   */
  trustRepo(id: string, trusted: boolean): Promise<IRepoSummary>;

  // -- Hugging Face models -------------------------------------------------------------------

  searchModels(
    options: { search?: string; limit?: number; task?: string },
    signal?: AbortSignal
  ): Promise<IModelSummary[]>;
  /** One model's metadata and card summary; `modelId` is `owner/name`. */
  getModel(modelId: string, signal?: AbortSignal): Promise<IModelInfo>;

  // -- secrets -------------------------------------------------------------------------------

  /** The user's stored secrets, by name: names and masked hints, never values. */
  readonly secrets: ReadonlyArray<ISecretInfo> | null;
  readonly secretsChanged: ISignal<
    ICookbook,
    ReadonlyArray<ISecretInfo> | null
  >;
  refreshSecrets(signal?: AbortSignal): Promise<ReadonlyArray<ISecretInfo>>;
  /** Save a secret; the value goes to the server and never comes back. */
  setSecret(name: string, value: string): Promise<ISecretInfo>;
  deleteSecret(name: string): Promise<void>;

  // -- generations ---------------------------------------------------------------------------

  /** Generations started in this browser (remembered across reloads), newest first. */
  readonly generations: ReadonlyArray<ILiveGeneration>;
  /** A generation started here, or viewed from the history. */
  get(id: string): ILiveGeneration | undefined;
  /** The newest generation followed since the page loaded (started or resumed). */
  latest(): ILiveGeneration | undefined;

  /** A generation was started from this browser. */
  readonly generationStarted: ISignal<ICookbook, ILiveGeneration>;
  /** Its progress, stream, error, approvals or waiting cells changed. */
  readonly generationChanged: ISignal<ICookbook, ILiveGeneration>;
  /** New events of a followed generation, before its cells go into the notebook. */
  readonly eventsReceived: ISignal<ICookbook, IEventsReceived>;
  /** Validated cells went into a notebook. */
  readonly cellsInserted: ISignal<ICookbook, ICellsInserted>;
  /**
   * A generation started here reached a terminal status (finished, failed,
   * cancelled, interrupted) and its stream ended.
   */
  readonly generationFinished: ISignal<ICookbook, ILiveGeneration>;

  /**
   * Start a generation into the notebook open at `target` (default: the
   * current notebook), starting its kernel when none runs. Its validated
   * cells go in as they come, after the active cell or at the end (the
   * user's insertion point), even after the user switched tabs. Resolves
   * once the server took it. Without `request.approval`, the user's
   * approval setting applies.
   */
  startGeneration(
    request: StartRequest,
    target?: string
  ): Promise<ILiveGeneration>;
  /** Ask the server to stop; the stream then delivers the `cancelled` event. */
  cancel(id: string): Promise<void>;
  /**
   * Run (`approved`) or skip a cell waiting for approval. `trust` (with
   * `approved`) also trusts the cell's repository, so the rest of its code
   * runs without asking.
   */
  answerApproval(
    id: string,
    approvalId: string,
    approved: boolean,
    trust?: boolean
  ): Promise<void>;
  /** Follow a generation from the server's history (its steps); inserts nothing. */
  view(id: string): ILiveGeneration;
  /** Past generations on the server, newest first. */
  history(signal?: AbortSignal): Promise<IGeneration[]>;
  /**
   * Insert a generation's validated cells into the notebook open at `target`
   * (default: the current one), skipping those already there. Resolves with
   * how many went in.
   */
  insertInto(id: string, target?: string): Promise<number>;
  /** Save a generation's validated notebook (.ipynb) through the browser; resolves with its file name. */
  download(id: string): Promise<string>;

  /** Cells that waited for a closed notebook, offered when it is back. */
  readonly offers: ReadonlyArray<IPendingOffer>;
  /** Insert the cells that waited for their (reopened) notebook; resolves with how many. */
  acceptOffer(id: string): Promise<number>;
  /** Forget the cells that waited (the server keeps them). */
  discardOffer(id: string): void;

  /** Recent timings of streamed cells reaching their notebook (for benchmarks). */
  readonly insertionMetrics: ReadonlyArray<IInsertionMetric>;

  // -- around ---------------------------------------------------------------------------------

  /** The open notebooks as Cookbook sees them. */
  readonly notebooks: INotebookHost;
  /** The user's Cookbook settings (Settings Editor → Cookbook). */
  readonly settings: ICookbookSettings;
  readonly settingsChanged: ISignal<ICookbook, ICookbookSettings>;
}

/** The Cookbook service. */
export const ICookbook = new Token<ICookbook>(
  'cookbook-ext:ICookbook',
  'The Cookbook service: ingest repositories, start generations into notebooks and follow their progress.'
);

/** The Cookbook panel in the left sidebar. */
export interface ICookbookSidebar {
  /** The sidebar widget's id in the shell. */
  readonly id: string;
  /** Show the panel (loading it the first time). */
  show(): Promise<void>;
  /**
   * Show the panel and start a generation with what its recipe holds, or
   * point at what is missing.
   */
  requestGenerate(): Promise<void>;
}

/** The Cookbook sidebar panel. */
export const ICookbookSidebar = new Token<ICookbookSidebar>(
  'cookbook-ext:ICookbookSidebar',
  'The Cookbook panel in the left sidebar: show it, or start a generation with its recipe.'
);
