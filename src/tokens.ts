/**
 * Cookbook's public interface: the `ICookbook` service another extension
 * requires to start a generation or follow one, and the sidebar's token.
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type {
  ICatalogState,
  IComparison,
  ICookbookEvent,
  IGeneration,
  IGenerationRequest,
  IModelInfo,
  IModelSummary,
  IPackChange,
  IRecipe,
  IRecipeError,
  IRepoSummary,
  ISecretInfo,
  IStatus
} from './api';
import type { StreamState } from './events';
import type { InsertionPoint, ReplaceDecision } from './notebook';
import type { INotebookHost } from './notebookHost';
import type { IApproval, IProgressState } from './progress';
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
  /** The generation this one follows up (null: none, or not known here). */
  readonly parentId: string | null;
  /** What it was started with, when this browser started it. */
  readonly request: StartRequest | null;
  /** How many of its cells were in its notebook at the last look. */
  readonly cellsInNotebook: number;
  /**
   * Follow-up cells that would replace a cell the user wrote or changed:
   * they wait for `answerReplacement`.
   */
  readonly pendingReplacements: ReadonlyArray<IPendingReplacement>;
}

/** A follow-up's cell waiting for the user before it replaces their cell. */
export interface IPendingReplacement {
  cellId: string;
  /** The nbformat id of the user's cell. */
  target: string;
  /** What the new cell does, when known. */
  title?: string;
  /** The user's cell's source now, and the new cell's. */
  oldSource: string;
  newSource: string;
}

/** Where and how a generation's cells go into the notebook. */
export interface IStartOptions {
  /** At the end, or below the active cell (default: the user's setting). */
  placement?: InsertionPoint;
  /** The cells take the place of the notebook's previous run. */
  replacePrevious?: boolean;
}

/** A follow-up: what to add or change, in the notebook its parent went into. */
export interface IFollowUpOptions {
  /** The notebook (default: the parent's, else the current one). */
  target?: string;
  /** Secrets the kernel may see (the parent's are not inherited). */
  secrets?: string[];
  approval?: 'never' | 'risky' | 'always';
}

/** Run a past generation again (`ICookbook.runAgain`). */
export interface IRunAgainOptions {
  /** The notebook (default: the current one). */
  target?: string;
  /** Run with this version of its recipe instead of the one it used. */
  templateVersion?: string;
  /** Secrets the kernel may see (default none: the earlier consent is not reused). */
  secrets?: string[];
  placement?: InsertionPoint;
}

/** Insert a past generation's cells again. */
export interface IInsertOptions {
  /** Keep its outputs (marked as the original run's), or clear them. */
  outputs?: 'keep' | 'clear';
  placement?: InsertionPoint;
}

/** The run a notebook's new generation could replace. */
export interface IPreviousRun {
  generationId: string;
  /** Its cells (and its follow-ups') in the notebook now. */
  cells: number;
}

/** A cell waiting for approval, and its generation. */
export interface IPendingApproval {
  generation: ILiveGeneration;
  approval: IApproval;
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
  /** Recipe files the server could not load (as of the last refresh). */
  readonly recipeErrors: ReadonlyArray<IRecipeError>;
  refreshRecipes(signal?: AbortSignal): Promise<ReadonlyArray<IRecipe>>;

  // -- recipe catalogues ---------------------------------------------------------------------

  /** The catalogues and their packs as last read; null until first asked. */
  readonly catalog: ICatalogState | null;
  readonly catalogChanged: ISignal<ICookbook, ICatalogState | null>;
  /** Read every catalogue again (a catalogue that cannot be read is listed with its error). */
  refreshCatalog(signal?: AbortSignal): Promise<ICatalogState>;
  /**
   * Install a pack, update it to the version its catalogue lists, or remove
   * it. Each resolves once `recipes` shows the change, so the recipe picker
   * has the new recipes at once.
   */
  installPack(id: string): Promise<IPackChange>;
  updatePack(id: string): Promise<IPackChange>;
  removePack(id: string): Promise<void>;

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
    target?: string,
    options?: IStartOptions
  ): Promise<ILiveGeneration>;
  /**
   * Continue generation `parentId` ("now read my CSV"): a new generation
   * linked to it that sees the notebook as it is now (the user's edits too)
   * and adds cells after the parent's, or replaces some of them (asking
   * first for a cell the user changed).
   */
  followUp(
    parentId: string,
    prompt: string,
    options?: IFollowUpOptions
  ): Promise<ILiveGeneration>;
  /** Start generation `id` again (optionally with another provider, or after trusting its repository). */
  retry(
    id: string,
    overrides?: Partial<StartRequest>
  ): Promise<ILiveGeneration>;
  /**
   * Run a past generation again into the notebook open at `options.target`
   * (default: the current one): a new generation with the request the
   * server stored (its recipe at the same version, inputs, prompt, topic,
   * complexity, repository, provider and model). When that recipe version is
   * gone it rejects with a `CookbookAPIError` of code
   * `recipe_version_unavailable` whose `details` name the current version;
   * `options.templateVersion` runs it with another.
   */
  runAgain(id: string, options?: IRunAgainOptions): Promise<ILiveGeneration>;
  /**
   * Install `packages` in the generation's notebook kernel (`%pip install`),
   * then start it again. Rejects with pip's error when the install fails.
   */
  installAndRetry(id: string, packages: string[]): Promise<ILiveGeneration>;
  /** The user's answer about a follow-up cell that would replace a cell they changed. */
  answerReplacement(
    id: string,
    cellId: string,
    decision: ReplaceDecision
  ): void;
  /**
   * Take a generation's cells out of its notebook (or `target`) at once: one
   * step in the notebook's undo history. Resolves with how many went.
   */
  removeCells(id: string, target?: string): number;
  /** The run a new generation in the notebook at `path` would replace, if any. */
  previousRun(path: string): IPreviousRun | null;
  /** Every cell waiting for approval in the generations started here. */
  pendingApprovals(): IPendingApproval[];
  /** One generation as the server has it (with `parent_id` and `children`). */
  getGeneration(id: string, signal?: AbortSignal): Promise<IGeneration>;
  /**
   * Run one recipe by 2 to 4 providers or models, each in a kernel of its
   * own; nothing goes into a notebook until the user picks a run.
   */
  startComparison(
    request: StartRequest,
    runs: ReadonlyArray<{ provider: string; model?: string }>
  ): Promise<{ id: string }>;
  getComparison(id: string, signal?: AbortSignal): Promise<IComparison>;
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
   * (default: the current one), skipping those already there, as clean cells
   * (no execution counts; outputs kept, marked as the original run's, or
   * cleared). Resolves with how many went in.
   */
  insertInto(
    id: string,
    target?: string,
    options?: IInsertOptions
  ): Promise<number>;
  /**
   * Save a generation's validated notebook (.ipynb) through the browser,
   * named as the server names it (`<repo>-<template>-<date>.ipynb`);
   * resolves with its file name.
   */
  download(id: string, outputs?: 'keep' | 'clear'): Promise<string>;

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
  /** Show the panel on one generation (its steps, its follow-up box). */
  showGeneration(id: string): Promise<void>;
  /** Whether the panel is showing now. */
  readonly isVisible: boolean;
}

/** The Cookbook sidebar panel. */
export const ICookbookSidebar = new Token<ICookbookSidebar>(
  'cookbook-ext:ICookbookSidebar',
  'The Cookbook panel in the left sidebar: show it, or start a generation with its recipe.'
);
