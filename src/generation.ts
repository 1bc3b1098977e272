/**
 * One generation as this browser follows it: the record remembered across
 * reloads, and the state rebuilt from its events (progress, validated cells).
 */
import type { StreamState } from './events';
import {
  emptyInsertionState,
  IInsertionState,
  IValidatedEntry,
  ValidatedCells
} from './notebook';
import { initialProgress, IProgressState } from './progress';
import type {
  ILiveGeneration,
  IPendingReplacement,
  StartRequest
} from './tokens';

/** What the browser remembers about a generation it started. */
export interface IGenerationRecord {
  id: string;
  /** The target notebook's path. */
  path: string;
  prompt: string;
  createdAt: number;
  /** Last status seen. */
  status: string;
  insertion: IInsertionState;
  /** The user closed the target while cells could still arrive: ask before inserting. */
  held: boolean;
  /** Validated cells, kept while the target is closed (null when not needed). */
  cells: IValidatedEntry[] | null;
  /** Terminal and every validated cell accounted for: nothing left to do. */
  settled: boolean;
  /** What it was started with (to run it again); absent for older records. */
  request?: StartRequest | null;
  /** The generation it follows up, if it is a follow-up. */
  parentId?: string | null;
}

/** The record of a generation just started into the notebook at `path`. */
export function startedRecord(
  id: string,
  path: string,
  prompt: string,
  insertion: IInsertionState | string | null,
  extra: { request?: StartRequest | null; parentId?: string | null } = {}
): IGenerationRecord {
  return {
    id,
    path,
    prompt,
    createdAt: Date.now(),
    status: 'running',
    insertion:
      insertion && typeof insertion === 'object'
        ? insertion
        : emptyInsertionState(insertion),
    held: false,
    cells: null,
    settled: false,
    request: extra.request ?? null,
    parentId: extra.parentId ?? null
  };
}

/** The record of a generation viewed from the history: it inserts nothing. */
export function viewedRecord(id: string): IGenerationRecord {
  return {
    id,
    path: '',
    prompt: '',
    createdAt: 0,
    status: 'unknown',
    insertion: emptyInsertionState(null),
    held: false,
    cells: null,
    settled: true
  };
}

export class Generation implements ILiveGeneration {
  constructor(record: IGenerationRecord, local: boolean) {
    this.record = record;
    this.local = local;
    if (record.cells) {
      this.cells = new ValidatedCells(record.cells);
    }
  }

  get id(): string {
    return this.record.id;
  }

  get path(): string {
    return this.record.path;
  }

  get prompt(): string {
    return this.record.prompt;
  }

  get createdAt(): number {
    return this.record.createdAt;
  }

  get settled(): boolean {
    return this.record.settled;
  }

  get parentId(): string | null {
    return this.record.parentId ?? null;
  }

  get request(): StartRequest | null {
    return this.record.request ?? null;
  }

  get cellsInNotebook(): number {
    return this.present.size;
  }

  readonly record: IGenerationRecord;
  readonly local: boolean;
  progress: IProgressState = initialProgress();
  cells = new ValidatedCells();
  streamState: StreamState = 'idle';
  error: string | null = null;
  clockOffset: number | null = null;
  /** Cell ids of this generation present in the target at the last look. */
  present = new Set<string>();
  /** Its stream was started since the page loaded. */
  followed = false;
  /** Follow-up cells waiting for the user before they replace a cell the user edited. */
  pendingReplacements: IPendingReplacement[] = [];
}
