/**
 * The generations this browser started, remembered in localStorage across
 * page reloads: enough to resume their streams, put back cells a reload
 * lost, and keep cells for a closed notebook (the server keeps everything).
 */
import type { IGenerationRecord } from './generation';

export const STORAGE_KEY = 'cookbook-ext:generations:v1';
/** Records kept in the browser; older settled ones are forgotten (the server keeps history). */
export const MAX_RECORDS = 30;

/** A key-value store (`window.localStorage` fits). */
export interface IKeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** The browser's localStorage, or null where it is unavailable. */
export function localStore(): IKeyValueStore | null {
  try {
    const storage = window.localStorage;
    const probe = 'cookbook-ext:probe';
    storage.setItem(probe, '1');
    storage.removeItem(probe);
    return storage;
  } catch {
    return null; // private mode or disabled: keep state in memory only
  }
}

export class RecordStore {
  /** `storage` null: nothing is remembered. */
  constructor(
    private readonly _storage: IKeyValueStore | null,
    private readonly _key = STORAGE_KEY
  ) {}

  /** The records saved last; a corrupt or foreign entry is skipped. */
  load(): IGenerationRecord[] {
    if (!this._storage) {
      return [];
    }
    try {
      const raw = this._storage.getItem(this._key);
      const parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter(isRecord) : [];
    } catch {
      return [];
    }
  }

  save(records: ReadonlyArray<IGenerationRecord>): void {
    if (!this._storage) {
      return;
    }
    try {
      this._storage.setItem(this._key, JSON.stringify(records));
    } catch {
      // Over quota (big outputs): keep the bookkeeping, drop the cell copies;
      // the server still has every validated cell.
      try {
        this._storage.setItem(
          this._key,
          JSON.stringify(records.map(r => ({ ...r, cells: null })))
        );
      } catch {
        /* storage unavailable: in-memory only */
      }
    }
  }
}

/**
 * The records to forget, given all of them newest first: the settled ones
 * beyond the newest `max` (one still running is never forgotten).
 */
export function recordsToForget(
  newestFirst: ReadonlyArray<IGenerationRecord>,
  max = MAX_RECORDS
): IGenerationRecord[] {
  return newestFirst.slice(max).filter(record => record.settled);
}

function isRecord(value: any): value is IGenerationRecord {
  return (
    value &&
    typeof value.id === 'string' &&
    typeof value.path === 'string' &&
    value.insertion &&
    typeof value.insertion.inserted === 'object' &&
    Array.isArray(value.insertion.dismissed)
  );
}
