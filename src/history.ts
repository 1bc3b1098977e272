/**
 * The history as the panel lists it: past generations as threads (a
 * generation, then its follow-ups under it), each entry with what tells it
 * apart (repository, recipe, time, status, cells). Pure.
 */
import {
  CookbookAPIError,
  IGeneration,
  IGenerationRequest,
  isTerminalStatus,
  IVerification
} from './api';

/** One entry of the history, and how deep in its thread it sits. */
export interface IHistoryEntry {
  generation: IGeneration;
  /** 0 for a generation, 1 for its follow-up, 2 for a follow-up of that... */
  depth: number;
}

/** How many cells a generation kept (null: not said). */
export function cellsCount(g: IGeneration): number | null {
  if (typeof g.cells_count === 'number') {
    return g.cells_count;
  }
  if (Array.isArray(g.cells)) {
    return g.cells.length;
  }
  return typeof g.cells === 'number' ? g.cells : null;
}

function parentOf(g: IGeneration): string | null {
  const parent =
    g.parent_id ??
    (typeof g.request?.parent_id === 'string' ? g.request.parent_id : null);
  return parent || null;
}

function sortKey(g: IGeneration): number {
  const value = g.created_at;
  if (typeof value === 'number') {
    return value;
  }
  const time = value ? Date.parse(value) : NaN;
  return isNaN(time) ? 0 : time / 1000;
}

/**
 * Threads, newest thread first; within a thread, each follow-up right under
 * the generation it continues, oldest first (the order they were made).
 */
export function historyThreads(
  items: ReadonlyArray<IGeneration>
): IHistoryEntry[] {
  const byId = new Map(items.map(g => [g.id, g]));
  const children = new Map<string, IGeneration[]>();
  const roots: IGeneration[] = [];
  for (const g of items) {
    const parent = parentOf(g);
    if (parent && byId.has(parent) && parent !== g.id) {
      const list = children.get(parent) ?? [];
      list.push(g);
      children.set(parent, list);
    } else {
      roots.push(g);
    }
  }
  // A thread is as recent as its newest follow-up.
  const newest = (g: IGeneration, seen = new Set<string>()): number => {
    seen.add(g.id);
    return Math.max(
      sortKey(g),
      ...(children.get(g.id) ?? [])
        .filter(c => !seen.has(c.id))
        .map(c => newest(c, seen))
    );
  };
  roots.sort((a, b) => newest(b) - newest(a));
  const out: IHistoryEntry[] = [];
  const seen = new Set<string>();
  const walk = (g: IGeneration, depth: number) => {
    if (seen.has(g.id)) {
      return;
    }
    seen.add(g.id);
    out.push({ generation: g, depth });
    const kids = (children.get(g.id) ?? [])
      .slice()
      .sort((a, b) => sortKey(a) - sortKey(b));
    kids.forEach(k => walk(k, depth + 1));
  };
  roots.forEach(r => walk(r, 0));
  // Anything left (a cycle): list it flat rather than lose it.
  items.filter(g => !seen.has(g.id)).forEach(g => walk(g, 0));
  return out;
}

/** What the user asked, else a short id. */
export function historyPrompt(g: IGeneration): string {
  const prompt = typeof g.request?.prompt === 'string' ? g.request.prompt : '';
  return prompt.trim() || g.id.slice(0, 8);
}

/** The repository's name, as the server or the request says it. */
export function historyRepo(g: IGeneration): string {
  if (g.repo_name) {
    return g.repo_name;
  }
  const source = g.request?.source;
  if (typeof source === 'string' && source) {
    const parts = source.replace(/\/+$/, '').split('/');
    return (parts[parts.length - 1] ?? source).replace(/\.git$/, '');
  }
  return '';
}

/** The recipe it used, with the version that made it ("quickstart 1.0.0"). */
export function historyTemplate(g: IGeneration): string {
  const recipe = g.recipe;
  const stored = g.request?.template;
  const id =
    (typeof recipe?.id === 'string' && recipe.id) ||
    g.template ||
    (typeof stored === 'string' ? stored : '');
  const v = recipe?.version ?? g.request?.template_version;
  return id && typeof v === 'string' && v ? `${id} ${v}` : id;
}

/** The hash of the recipe's rendered instructions, when the server recorded it. */
export function historyRecipeHash(g: IGeneration): string {
  const sha = g.recipe?.sha256;
  return typeof sha === 'string' ? sha : '';
}

/** The fresh-kernel re-run check, wherever the server put it. */
export function historyVerification(g: IGeneration): IVerification | null {
  const v = g.verification ?? g.provenance?.verification ?? null;
  return v && typeof v === 'object' && typeof v.status === 'string' ? v : null;
}

/** The request fields "run again" takes from the stored request, as they were. */
const RUN_AGAIN_FIELDS = [
  'repo_id',
  'source',
  'ref',
  'hf_model_id',
  'prompt',
  'topic',
  'complexity',
  'data_path',
  'compare_with'
] as const;

/**
 * Whether the history offers "Run again": a generation that ended and is not
 * a follow-up (a follow-up continues its thread's notebook; "Open" continues
 * it again).
 */
export function canRunAgain(g: IGeneration): boolean {
  return isTerminalStatus(g.status) && parentOf(g) === null;
}

/**
 * The request that runs `g` again: the same recipe at the same version
 * (unless `templateVersion` names another), inputs, prompt, topic,
 * complexity, repository, provider and model. Not the approval mode, the
 * secrets or the trust: those are the user's choice now. Null when the
 * server did not say what `g` was asked for.
 */
export function runAgainRequest(
  g: IGeneration,
  options: { templateVersion?: string } = {}
): Omit<IGenerationRequest, 'kernel_id'> | null {
  const stored: Record<string, unknown> = g.request ?? {};
  const prompt = stored.prompt;
  const template = stored.template ?? g.template ?? g.recipe?.id;
  if (typeof prompt !== 'string' || !prompt || typeof template !== 'string') {
    return null;
  }
  const out: Record<string, unknown> = {};
  for (const key of RUN_AGAIN_FIELDS) {
    const value = stored[key];
    if (value !== undefined && value !== null && value !== '') {
      out[key] = value;
    }
  }
  out.template = template;
  const version =
    options.templateVersion ??
    (typeof stored.template_version === 'string'
      ? stored.template_version
      : g.recipe?.version);
  if (version) {
    out.template_version = version;
  }
  const inputs = stored.inputs;
  if (inputs && typeof inputs === 'object' && Object.keys(inputs).length > 0) {
    out.inputs = { ...(inputs as Record<string, unknown>) };
  }
  // The provider and model it ran with, also when the server chose them.
  const provider = stored.provider ?? g.provider;
  if (typeof provider === 'string' && provider) {
    out.provider = provider;
    const model = stored.model ?? (provider === g.provider ? g.model : null);
    if (typeof model === 'string' && model) {
      out.model = model;
    }
  }
  out.complexity = out.complexity ?? 'basic';
  return out as unknown as Omit<IGenerationRequest, 'kernel_id'>;
}

/** What the server said when a pinned recipe version is gone. */
export interface IVersionUnavailable {
  template: string;
  /** The version asked for. */
  version: string;
  /** The recipe's current version (null: the server did not say). */
  current: string | null;
  /** Every version the server still has, newest first. */
  available: string[];
}

/** The details of a `recipe_version_unavailable` refusal, else null. */
export function versionUnavailable(error: unknown): IVersionUnavailable | null {
  if (
    !(error instanceof CookbookAPIError) ||
    error.code !== 'recipe_version_unavailable'
  ) {
    return null;
  }
  const d = error.details;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : null);
  const available = Array.isArray(d.available)
    ? d.available.filter((v): v is string => typeof v === 'string')
    : [];
  return {
    template: text(d.template) ?? '',
    version: text(d.version) ?? '',
    current: text(d.current) ?? available[0] ?? null,
    available
  };
}
