/**
 * Folds a generation's events into what the progress view shows: a list of
 * steps, tokens and cost so far, status and timing. Pure, so replaying the
 * stream after a reload rebuilds exactly the same view.
 */
import {
  CodeOrigin,
  ICookbookEvent,
  INextStep,
  isTerminalStatus,
  IUsage,
  IVerification
} from './api';

export type StepKind =
  | 'info'
  | 'text'
  | 'file'
  | 'cell'
  | 'run'
  | 'ok'
  | 'error'
  | 'fix'
  | 'validated'
  | 'warning'
  | 'verify'
  | 'done';

export type StepMessage =
  | 'started'
  | 'status'
  | 'text'
  | 'read'
  | 'listed'
  | 'searched'
  | 'fixed'
  | 'removed'
  | 'called'
  | 'toolFailed'
  | 'wroteMarkdown'
  | 'wroteCode'
  | 'running'
  | 'ran'
  | 'cellFailed'
  | 'validated'
  | 'withdrawn'
  | 'warning'
  | 'approval'
  | 'approved'
  | 'declined'
  | 'finished'
  | 'failed'
  | 'cancelled'
  | 'choosing'
  | 'verifying'
  | 'verifiedPassed'
  | 'verifiedFailed'
  | 'verifiedSkipped';

export interface IStep {
  /** Stable key: a later event may update the same step (a running cell). */
  key: string;
  kind: StepKind;
  /** Message id (see the progress view's catalogue) and its arguments. */
  msg: StepMessage;
  args: (string | number)[];
  detail?: string;
  /** What the cell the step is about does ("Load the model"), when known. */
  title?: string;
  seq: number;
}

export type ProgressStatus =
  | 'starting'
  | 'running'
  | 'cancelling'
  | 'finished'
  | 'failed'
  | 'cancelled'
  | 'interrupted';

/** A cell waiting for the user's go-ahead before it runs. */
export interface IApproval {
  approvalId: string;
  cellId: string;
  /** What the cell does ("Install the dependencies"), when known. */
  title?: string;
  source: string;
  reasons: string[];
  /** What exactly will happen: the packages to install, the command, the host called. */
  details: string[];
  /** Whose code it is: the repository's, its model card's, or the model's own. */
  origin: CodeOrigin;
  /** Code from a repository (or model card) the user has not trusted. */
  untrusted: boolean;
  /** The repository the user can trust from the card (untrusted code only). */
  repo: { id: string; label: string } | null;
}

function codeOrigin(value: unknown): CodeOrigin {
  return value === 'repository' || value === 'model_card' ? value : 'model';
}

function approvalRepo(value: unknown): IApproval['repo'] {
  if (value && typeof value === 'object') {
    const { id, label } = value as Record<string, unknown>;
    if (typeof id === 'string' && id) {
      return { id, label: typeof label === 'string' && label ? label : id };
    }
  }
  return null;
}

/** A validated cell of a follow-up that takes the place of a notebook cell. */
export interface IReplacement {
  /** The nbformat id of the notebook cell it replaces. */
  target: string;
  /** The user wrote or changed that cell: replacing it asks first. */
  edited: boolean;
}

export interface IProgressState {
  status: ProgressStatus;
  provider?: string;
  model?: string;
  /**
   * Whether a language model writes the cells (`started.uses_model`); false
   * for the offline provider (examples and snippets: no tokens, no cost).
   */
  usesModel?: boolean;
  /** What each cell does ("Load the model"), by cell id, when known. */
  cellTitles: Record<string, string>;
  /** Follow-up cells that replace a notebook cell, by cell id. */
  replacements: Record<string, IReplacement>;
  /** Why a failed (or empty) run ended, in one sentence. */
  cause?: string;
  /** What the user can do about it, as buttons. */
  nextSteps: INextStep[];
  /** The fresh-kernel re-run, once done. */
  verification?: IVerification;
  /** Server epoch seconds of the first event and the terminal one. */
  startedAt?: number;
  finishedAt?: number;
  steps: IStep[];
  usage: IUsage;
  /** Cells kept in the notebook so far (validated minus invalidated). */
  validatedCells: string[];
  filesRead: number;
  cellsWritten: number;
  cellsRun: number;
  errors: number;
  fixes: number;
  message?: string;
  /** Approvals asked for and not resolved yet (`approval_resolved`). */
  approvals: IApproval[];
  lastSeq: number;
}

/** The most steps kept; older ones scroll away so a long run stays light. */
export const MAX_STEPS = 400;

export function initialProgress(): IProgressState {
  return {
    status: 'starting',
    steps: [],
    usage: {},
    cellTitles: {},
    replacements: {},
    nextSteps: [],
    validatedCells: [],
    filesRead: 0,
    cellsWritten: 0,
    cellsRun: 0,
    errors: 0,
    fixes: 0,
    approvals: [],
    lastSeq: 0
  };
}

function firstLine(text: unknown, limit = 120): string {
  const line = String(text ?? '')
    .split('\n')
    .find(l => l.trim().length > 0);
  const trimmed = (line ?? '').trim();
  return trimmed.length > limit ? `${trimmed.slice(0, limit - 1)}…` : trimmed;
}

/**
 * What a cell does, from its own text when the server gave no title: a
 * markdown cell's first heading, a code cell's leading comment.
 */
export function deriveTitle(source: unknown, cellType: unknown): string {
  const lines = String(source ?? '')
    .split('\n')
    .map(l => l.trim())
    .filter(l => l.length > 0);
  const first = lines[0] ?? '';
  const pattern = cellType === 'markdown' ? /^#{1,6}\s+(.+)$/ : /^#\s*(.+)$/;
  const match = first.match(pattern);
  if (!match || first.startsWith('#!') || /^#\s*%/.test(first)) {
    return '';
  }
  const title = match[1].replace(/[#*_`]+/g, '').trim();
  return title.length > 80 ? `${title.slice(0, 79)}…` : title;
}

function nextSteps(value: unknown): INextStep[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value
    .filter(
      (v): v is Record<string, any> =>
        v !== null &&
        typeof v === 'object' &&
        typeof v.action === 'string' &&
        typeof v.label === 'string' &&
        v.label.trim().length > 0
    )
    .map(v => ({
      action: v.action,
      label: v.label,
      ...(Array.isArray(v.packages)
        ? { packages: v.packages.map(String) }
        : {}),
      ...(typeof v.provider === 'string' ? { provider: v.provider } : {}),
      ...(typeof v.repo_id === 'string' ? { repo_id: v.repo_id } : {})
    }));
}

function clip(text: unknown, limit = 300): string {
  const s = String(text ?? '').trim();
  return s.length > limit ? `${s.slice(0, limit - 1)}…` : s;
}

function upsert(steps: IStep[], step: IStep): IStep[] {
  const i = steps.findIndex(s => s.key === step.key);
  if (i >= 0) {
    const next = steps.slice();
    next[i] = step;
    return next;
  }
  const next = [...steps, step];
  return next.length > MAX_STEPS ? next.slice(next.length - MAX_STEPS) : next;
}

/** Apply one event. Never throws on unexpected payloads. */
export function reduceProgress(
  state: IProgressState,
  event: ICookbookEvent
): IProgressState {
  if (event.seq <= state.lastSeq) {
    return state;
  }
  const data = (event.data ?? {}) as Record<string, any>;
  const seq = event.seq;
  const s: IProgressState = { ...state, lastSeq: seq };
  if (s.startedAt === undefined && typeof event.ts === 'number') {
    s.startedAt = event.ts;
  }
  if (s.status === 'starting' && !isTerminalStatus(event.type)) {
    s.status = 'running';
  }
  const add = (
    kind: StepKind,
    msg: StepMessage,
    args: (string | number)[] = [],
    detail?: string,
    key?: string,
    title?: string
  ) => {
    s.steps = upsert(s.steps, {
      key: key ?? `e${seq}`,
      kind,
      msg,
      args,
      detail,
      ...(title ? { title } : {}),
      seq
    });
  };
  const titleOf = (cellId: unknown): string | undefined =>
    s.cellTitles[String(cellId ?? '')] || undefined;
  const setTitle = (cellId: string, title: unknown) => {
    if (cellId && typeof title === 'string' && title.trim()) {
      s.cellTitles = { ...s.cellTitles, [cellId]: title.trim() };
    }
  };

  // The server says when an approval is resolved (answered here or in another
  // tab, timed out, cancelled); a terminal event ends any that remain.
  if (s.approvals.length > 0 && isTerminalStatus(event.type)) {
    s.approvals = [];
  }

  switch (event.type) {
    case 'started':
      s.provider = data.provider ?? s.provider;
      s.model = data.model ?? s.model;
      if (typeof data.uses_model === 'boolean') {
        s.usesModel = data.uses_model;
      }
      s.startedAt = event.ts ?? s.startedAt;
      add('info', 'started', [
        String(data.provider ?? '?'),
        String(data.model ?? '?')
      ]);
      break;
    case 'status':
      if (data.phase === 'model' && s.usesModel === false) {
        // No model is waited for: the provider picks the next snippet.
        const last = s.steps[s.steps.length - 1];
        add(
          'info',
          'choosing',
          [],
          undefined,
          last?.msg === 'status' || last?.msg === 'choosing'
            ? last.key
            : undefined
        );
      } else if (data.phase === 'verify') {
        add('verify', 'verifying', [], undefined, 'verify');
      } else if (data.message) {
        // A run of status lines collapses into the latest one.
        const last = s.steps[s.steps.length - 1];
        add(
          'info',
          'status',
          [String(data.message)],
          undefined,
          last?.msg === 'status' ? last.key : undefined
        );
      }
      break;
    case 'llm_text':
      if (String(data.text ?? '').trim()) {
        add('text', 'text', [firstLine(data.text, 200)]);
      }
      break;
    case 'tool_call': {
      const args = (data.arguments ?? {}) as Record<string, any>;
      const key = `tool-${data.id ?? seq}`;
      switch (data.name) {
        case 'read_file_from_repo':
          s.filesRead++;
          add('file', 'read', [String(args.path ?? '')], undefined, key);
          break;
        case 'list_files_in_repo':
          add(
            'file',
            'listed',
            [String(args.folder || args.pattern || '/')],
            undefined,
            key
          );
          break;
        case 'search_repo':
          add('file', 'searched', [String(args.query ?? '')], undefined, key);
          break;
        case 'edit_cell':
          s.fixes++;
          add(
            'fix',
            'fixed',
            [String(args.cell_id ?? '')],
            firstLine(args.code),
            key,
            titleOf(args.cell_id)
          );
          break;
        case 'delete_cell':
          add(
            'fix',
            'removed',
            [String(args.cell_id ?? '')],
            undefined,
            key,
            titleOf(args.cell_id)
          );
          break;
        case 'create_cell':
        case 'execute_cell':
        case 'finish':
          // Shown through cell_created / cell_executed / finished.
          break;
        default:
          add('info', 'called', [String(data.name ?? '?')], undefined, key);
      }
      break;
    }
    case 'tool_result':
      if (data.ok === false) {
        s.errors++;
        add(
          'error',
          'toolFailed',
          [String(data.name ?? '?')],
          clip(data.summary),
          `tool-${data.id ?? seq}-result`
        );
      }
      break;
    case 'cell_created': {
      s.cellsWritten++;
      const cellId = String(data.cell_id ?? '');
      setTitle(cellId, data.title || deriveTitle(data.source, data.cell_type));
      add(
        'cell',
        data.cell_type === 'markdown' ? 'wroteMarkdown' : 'wroteCode',
        [cellId],
        firstLine(data.source),
        undefined,
        titleOf(cellId)
      );
      break;
    }
    case 'cell_progress':
      add(
        'run',
        'running',
        [String(data.cell_id ?? ''), Math.round(Number(data.elapsed ?? 0))],
        undefined,
        `run-${data.cell_id}`,
        titleOf(data.cell_id)
      );
      break;
    case 'cell_executed': {
      s.cellsRun++;
      const cellId = String(data.cell_id ?? '');
      const seconds = (Number(data.duration_ms ?? 0) / 1000).toFixed(1);
      // Replace the "running…" line of this cell, if any, with the outcome.
      const runKey = `run-${cellId}`;
      s.steps = s.steps.filter(step => step.key !== runKey);
      if (data.ok) {
        add(
          'ok',
          'ran',
          [cellId, seconds],
          undefined,
          undefined,
          titleOf(cellId)
        );
      } else {
        s.errors++;
        const error = data.error
          ? `${data.error.ename}: ${data.error.evalue}`
          : '';
        add(
          'error',
          'cellFailed',
          [cellId],
          clip(data.short_error || error || data.status),
          undefined,
          titleOf(cellId)
        );
      }
      break;
    }
    case 'cell_validated': {
      const cellId = String(data.cell_id ?? '');
      setTitle(cellId, data.title);
      if (!s.validatedCells.includes(cellId)) {
        s.validatedCells = [...s.validatedCells, cellId];
      }
      if (typeof data.replaces === 'string' && data.replaces) {
        s.replacements = {
          ...s.replacements,
          [cellId]: {
            target: data.replaces,
            edited: data.replaces_edited === true
          }
        };
      }
      add(
        'validated',
        'validated',
        [cellId],
        undefined,
        undefined,
        titleOf(cellId)
      );
      break;
    }
    case 'cell_invalidated': {
      const cellId = String(data.cell_id ?? '');
      s.validatedCells = s.validatedCells.filter(c => c !== cellId);
      if (s.replacements[cellId]) {
        s.replacements = Object.fromEntries(
          Object.entries(s.replacements).filter(([id]) => id !== cellId)
        );
      }
      add(
        'warning',
        'withdrawn',
        [cellId],
        undefined,
        undefined,
        titleOf(cellId)
      );
      break;
    }
    case 'verified': {
      const status = String(data.status ?? '');
      s.verification = {
        status,
        failed_cell:
          typeof data.failed_cell === 'number' ? data.failed_cell : null,
        cell_id: typeof data.cell_id === 'string' ? data.cell_id : null,
        error: data.error ?? null,
        seconds: typeof data.seconds === 'number' ? data.seconds : null,
        reason: typeof data.reason === 'string' ? data.reason : null
      };
      const seconds = Number(data.seconds ?? 0).toFixed(1);
      const error =
        data.error && typeof data.error === 'object'
          ? `${data.error.ename ?? 'Error'}: ${data.error.evalue ?? ''}`
          : data.error
            ? String(data.error)
            : '';
      if (status === 'passed') {
        add('ok', 'verifiedPassed', [seconds], undefined, 'verify');
      } else if (status === 'failed') {
        const cell = String(data.cell_id ?? data.failed_cell ?? '');
        add(
          'error',
          'verifiedFailed',
          [cell, seconds],
          clip(error),
          'verify',
          titleOf(data.cell_id)
        );
      } else {
        add('info', 'verifiedSkipped', [], clip(data.reason), 'verify');
      }
      break;
    }
    case 'usage':
      s.usage = {
        input_tokens: data.input_tokens,
        output_tokens: data.output_tokens,
        cache_read_tokens: data.cache_read_tokens,
        cache_write_tokens: data.cache_write_tokens,
        cost_usd: data.cost_usd,
        turns: data.turns
      };
      break;
    case 'warning':
      add('warning', 'warning', [clip(data.message)]);
      break;
    case 'approval_required': {
      const reasons = Array.isArray(data.reasons)
        ? data.reasons.map(String)
        : data.reason
          ? [String(data.reason)]
          : [];
      if (data.approval_id) {
        s.approvals = [
          ...s.approvals.filter(a => a.approvalId !== data.approval_id),
          {
            approvalId: String(data.approval_id),
            cellId: String(data.cell_id ?? ''),
            ...(typeof data.title === 'string' && data.title.trim()
              ? { title: data.title.trim() }
              : titleOf(data.cell_id)
                ? { title: titleOf(data.cell_id) }
                : {}),
            source: String(data.source ?? ''),
            reasons,
            details: Array.isArray(data.details)
              ? data.details.map(String)
              : [],
            origin: codeOrigin(data.origin),
            untrusted: data.untrusted === true,
            repo: data.untrusted === true ? approvalRepo(data.repo) : null
          }
        ];
      }
      add(
        'warning',
        'approval',
        [String(data.cell_id ?? '')],
        clip(reasons.join('; ') || data.reason),
        data.approval_id ? `approval-${data.approval_id}` : undefined,
        titleOf(data.cell_id)
      );
      break;
    }
    case 'approval_resolved': {
      const approvalId = String(data.approval_id ?? '');
      const asked = s.approvals.find(a => a.approvalId === approvalId);
      s.approvals = s.approvals.filter(a => a.approvalId !== approvalId);
      const key = `approval-${approvalId}`;
      const step = s.steps.find(x => x.key === key);
      // The question's line becomes its answer, so the list does not grow.
      add(
        data.approved ? 'ok' : 'warning',
        data.approved ? 'approved' : 'declined',
        [String(data.cell_id ?? asked?.cellId ?? '')],
        step?.detail,
        step ? key : undefined,
        titleOf(data.cell_id ?? asked?.cellId)
      );
      break;
    }
    case 'finished':
      s.status = 'finished';
      s.finishedAt = event.ts;
      if (data.usage) {
        s.usage = { ...s.usage, ...data.usage };
      }
      if (typeof data.cause === 'string' && data.cause.trim()) {
        s.cause = data.cause.trim();
      }
      s.nextSteps = nextSteps(data.next_steps);
      add('done', 'finished', [s.validatedCells.length]);
      break;
    case 'failed':
      s.status = 'failed';
      s.finishedAt = event.ts;
      s.message = String(data.message ?? '');
      if (typeof data.cause === 'string' && data.cause.trim()) {
        s.cause = data.cause.trim();
      }
      s.nextSteps = nextSteps(data.next_steps);
      add('error', 'failed', [], clip(data.cause || data.message, 600));
      break;
    case 'cancelled':
      s.status = 'cancelled';
      s.finishedAt = event.ts;
      s.message = data.message ? String(data.message) : undefined;
      add(
        'warning',
        'cancelled',
        [],
        data.message ? clip(data.message) : undefined
      );
      break;
    default:
      break;
  }
  return s;
}

export function reduceAll(
  state: IProgressState,
  events: ICookbookEvent[]
): IProgressState {
  return events.reduce(reduceProgress, state);
}

/** Total tokens of a usage record. */
export function totalTokens(usage: IUsage | null | undefined): number {
  if (!usage) {
    return 0;
  }
  return (
    (usage.input_tokens ?? 0) +
    (usage.output_tokens ?? 0) +
    (usage.cache_read_tokens ?? 0) +
    (usage.cache_write_tokens ?? 0)
  );
}
