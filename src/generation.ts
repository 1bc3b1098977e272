/**
 * One generation as this browser follows it: the record remembered across
 * reloads, and the state rebuilt from its events (progress, validated cells).
 */
import type * as nbformat from '@jupyterlab/nbformat';

import type { StreamState } from './events';
import {
  emptyInsertionState,
  IInsertionState,
  ValidatedCells
} from './notebook';
import { initialProgress, IProgressState } from './progress';
import type { ILiveGeneration } from './tokens';

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
  cells: Array<{ cellId: string; cell: nbformat.ICell }> | null;
  /** Terminal and every validated cell accounted for: nothing left to do. */
  settled: boolean;
}

/** The record of a generation just started into the notebook at `path`. */
export function startedRecord(
  id: string,
  path: string,
  prompt: string,
  anchor: string | null
): IGenerationRecord {
  return {
    id,
    path,
    prompt,
    createdAt: Date.now(),
    status: 'running',
    insertion: emptyInsertionState(anchor),
    held: false,
    cells: null,
    settled: false
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
}
