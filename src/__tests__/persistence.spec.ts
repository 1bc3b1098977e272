import type { IGenerationRecord } from '../generation';
import { emptyInsertionState } from '../notebook';
import {
  IKeyValueStore,
  MAX_RECORDS,
  RecordStore,
  recordsToForget,
  STORAGE_KEY
} from '../persistence';

class MemoryStore implements IKeyValueStore {
  data = new Map<string, string>();
  /** Writes longer than this fail, as over quota. */
  quota = Infinity;
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    if (value.length > this.quota) {
      throw new DOMException('full', 'QuotaExceededError');
    }
    this.data.set(key, value);
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
}

function record(id: string, extra: Partial<IGenerationRecord> = {}) {
  return {
    id,
    path: `${id}.ipynb`,
    prompt: 'p',
    createdAt: 1,
    status: 'finished',
    insertion: emptyInsertionState(null),
    held: false,
    cells: null,
    settled: true,
    ...extra
  } as IGenerationRecord;
}

describe('RecordStore', () => {
  it('gives back the records it saved', () => {
    const storage = new MemoryStore();
    const records = [record('a'), record('b', { held: true })];
    new RecordStore(storage).save(records);
    expect(new RecordStore(storage).load()).toEqual(records);
  });

  it('skips entries that are not records, and survives a corrupt value', () => {
    const storage = new MemoryStore();
    storage.setItem(
      STORAGE_KEY,
      JSON.stringify([record('a'), { id: 3 }, null, 'x'])
    );
    expect(new RecordStore(storage).load().map(r => r.id)).toEqual(['a']);
    storage.setItem(STORAGE_KEY, '{not json');
    expect(new RecordStore(storage).load()).toEqual([]);
  });

  it('drops the cell copies, keeping the bookkeeping, when storage is full', () => {
    const storage = new MemoryStore();
    const big = {
      cellId: 'c1',
      cell: { cell_type: 'code', source: 'x'.repeat(5000), metadata: {} }
    } as any;
    storage.quota = 2000;
    new RecordStore(storage).save([record('a', { cells: [big] })]);
    const [saved] = new RecordStore(storage).load();
    expect(saved.id).toBe('a');
    expect(saved.cells).toBeNull();
  });

  it('remembers nothing without storage', () => {
    const store = new RecordStore(null);
    store.save([record('a')]);
    expect(store.load()).toEqual([]);
  });
});

describe('recordsToForget', () => {
  it('forgets settled records beyond the newest ones, never one still running', () => {
    const records = Array.from({ length: MAX_RECORDS + 3 }, (_, i) =>
      record(`r${i}`, { settled: i !== MAX_RECORDS + 1 })
    );
    expect(recordsToForget(records).map(r => r.id)).toEqual([
      `r${MAX_RECORDS}`,
      `r${MAX_RECORDS + 2}`
    ]);
    expect(recordsToForget(records.slice(0, MAX_RECORDS))).toEqual([]);
  });
});
