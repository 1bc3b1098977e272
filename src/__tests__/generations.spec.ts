import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';

import { CookbookAPIError, ICookbookEvent, IEventsPage } from '../api';
import { GenerationManager, IKeyValueStore, STORAGE_KEY } from '../generations';
import type { INotebookLike } from '../notebook';
import type { INotebookHandle, INotebookHost } from '../tracker';

const GEN = 'f'.repeat(32);

/** A server that serves one generation's events as a long poll. */
class FakeServer {
  events: ICookbookEvent[] = [];
  done = false;
  afters: number[] = [];
  failNext = 0;
  started: any[] = [];
  cancelled: string[] = [];
  approvals: Array<[string, boolean]> = [];
  private _waiters: Array<() => void> = [];
  private _drops: Array<(error: Error) => void> = [];

  /** The connection drops: every waiting long poll fails. */
  drop(): void {
    this._drops
      .splice(0)
      .forEach(d => d(new CookbookAPIError(0, 'network_error', 'reset')));
  }

  emit(type: string, data: any = {}): void {
    this.events.push({
      seq: this.events.length + 1,
      type,
      data,
      ts: Date.now() / 1000
    });
    if (type === 'finished' || type === 'failed' || type === 'cancelled') {
      this.done = true;
    }
    this._waiters.splice(0).forEach(w => w());
  }

  validated(
    cellId: string,
    index: number,
    source: string,
    cellType = 'code'
  ): void {
    const cell: any = {
      id: `cookbook-${GEN.slice(0, 12)}-${cellId}`,
      cell_type: cellType,
      source,
      metadata: { cookbook: { generation_id: GEN, cell_id: cellId } }
    };
    if (cellType === 'code') {
      cell.outputs = [
        { output_type: 'stream', name: 'stdout', text: `${source}\n` }
      ];
      cell.execution_count = index + 1;
    }
    this.emit('cell_validated', { cell_id: cellId, index, cell });
  }

  api(): any {
    return {
      startGeneration: async (request: any) => {
        this.started.push(request);
        return { id: GEN };
      },
      events: async (
        id: string,
        after: number,
        timeout: number,
        signal?: AbortSignal
      ) => {
        this.afters.push(after);
        if (this.failNext > 0) {
          this.failNext--;
          throw new CookbookAPIError(0, 'network_error', 'Failed to fetch');
        }
        while (
          !this.events.some(e => e.seq > after) &&
          !this.done &&
          timeout !== 0
        ) {
          await new Promise<void>((resolve, reject) => {
            this._waiters.push(resolve);
            this._drops.push(reject);
            signal?.addEventListener('abort', () => {
              const error = new Error('aborted');
              error.name = 'AbortError';
              reject(error);
            });
          });
        }
        const page: IEventsPage = {
          events: this.events.filter(e => e.seq > after),
          done: this.done
        };
        return page;
      },
      cancelGeneration: async (id: string) => {
        this.cancelled.push(id);
        return { id, status: 'cancelling' };
      },
      answerApproval: async (
        id: string,
        approvalId: string,
        approved: boolean
      ) => {
        this.approvals.push([approvalId, approved]);
        return { approval_id: approvalId, approved };
      },
      getGeneration: async (id: string) => ({
        id,
        status: this.done ? 'finished' : 'running',
        cells: this.events
          .filter(e => e.type === 'cell_validated')
          .map(e => e.data.cell)
      })
    };
  }
}

class FakeHandle implements INotebookHandle {
  constructor(
    public path: string,
    public shared: INotebookLike & YNotebook = YNotebook.create() as any
  ) {
    this.shared.changed.connect(() => this._cellsChanged.emit(), this);
  }
  activeId: string | null = null;
  kernel: string | null = 'k-1';
  get cellsChanged(): Signal<INotebookHandle, void> {
    return this._cellsChanged;
  }
  activeCellId() {
    return this.activeId;
  }
  async ensureKernel() {
    this.kernel = this.kernel ?? 'k-started';
    return this.kernel;
  }
  kernelId() {
    return this.kernel;
  }
  private _cellsChanged: Signal<INotebookHandle, void> = new Signal<
    INotebookHandle,
    void
  >(this);
}

class FakeHost implements INotebookHost {
  open = new Map<string, FakeHandle>();
  currentPath: string | null = null;
  readonly opened: Signal<INotebookHost, string> = new Signal(this);
  readonly closed: Signal<INotebookHost, string> = new Signal(this);
  readonly renamed: Signal<
    INotebookHost,
    { oldPath: string; newPath: string }
  > = new Signal(this);
  readonly currentChanged: Signal<INotebookHost, void> = new Signal(this);

  find(path: string) {
    return this.open.get(path) ?? null;
  }
  current() {
    return this.currentPath ? this.find(this.currentPath) : null;
  }
  add(handle: FakeHandle) {
    this.open.set(handle.path, handle);
    this.opened.emit(handle.path);
  }
  close(path: string) {
    this.open.delete(path);
    this.closed.emit(path);
  }
}

class MemoryStore implements IKeyValueStore {
  data = new Map<string, string>();
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
}

function notebookWith(...sources: string[]): YNotebook {
  const nb = YNotebook.create();
  sources.forEach((source, i) =>
    nb.insertCell(i, {
      cell_type: 'code',
      source,
      id: `user-${i}`,
      metadata: {}
    })
  );
  return nb;
}

function cookbookIds(nb: YNotebook): string[] {
  return nb.cells
    .map(c => (c.getMetadata() as any)?.cookbook?.cell_id)
    .filter((id: string | undefined) => id !== undefined);
}

const settle = (ms = 20) => new Promise(r => setTimeout(r, ms));

async function until(predicate: () => boolean, timeout = 2000): Promise<void> {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) {
      throw new Error('timed out');
    }
    await settle(5);
  }
}

function setup(storage = new MemoryStore()) {
  const server = new FakeServer();
  const host = new FakeHost();
  const manager = new GenerationManager({
    api: server.api(),
    host,
    storage,
    backoff: { initial: 1, max: 5, factor: 2 }
  });
  return { server, host, manager, storage };
}

const REQUEST = {
  repo_id: 'r'.repeat(32),
  prompt: 'p',
  template: 'quickstart',
  complexity: 'basic' as const
};

describe('GenerationManager', () => {
  let managers: GenerationManager[] = [];
  afterEach(() => {
    managers.forEach(m => m.dispose());
    managers = [];
  });

  function track<T extends { manager: GenerationManager }>(x: T): T {
    managers.push(x.manager);
    return x;
  }

  it('starts with the notebook kernel and inserts validated cells after the active cell', async () => {
    const { server, host, manager, storage } = track(setup());
    const handle = new FakeHandle(
      'a.ipynb',
      notebookWith('first', 'second') as any
    );
    handle.activeId = 'user-0';
    host.add(handle);
    await manager.start(REQUEST, handle);
    expect(server.started[0].kernel_id).toBe('k-1');

    server.emit('started', { provider: 'offline', model: 'x' });
    server.validated('c1', 0, '# Title', 'markdown');
    server.validated('c2', 1, 'print(1)');
    await until(() => cookbookIds(handle.shared).length === 2);
    expect(handle.shared.cells.map(c => c.getSource())).toEqual([
      'first',
      '# Title',
      'print(1)',
      'second'
    ]);
    const saved = JSON.parse(storage.getItem(STORAGE_KEY)!);
    expect(saved[0]).toMatchObject({ id: GEN, path: 'a.ipynb' });
  });

  it('keeps inserting into the target notebook after the user switches tabs', async () => {
    const { server, host, manager } = track(setup());
    const target = new FakeHandle('target.ipynb');
    const other = new FakeHandle('other.ipynb');
    host.add(target);
    host.add(other);
    host.currentPath = 'target.ipynb';
    await manager.start(REQUEST, target);
    host.currentPath = 'other.ipynb';
    server.validated('c1', 0, 'x = 1');
    await until(() => cookbookIds(target.shared).length === 1);
    expect(cookbookIds(other.shared)).toEqual([]);
  });

  it('keeps the cells of a closed target and offers them when it is reopened', async () => {
    const { server, host, manager, storage } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.validated('c1', 0, 'x = 1');
    await until(() => cookbookIds(handle.shared).length === 1);

    host.close('a.ipynb');
    server.validated('c2', 1, 'y = 2');
    server.emit('finished', {});
    await until(() => manager.get(GEN)!.progress.status === 'finished');
    // The waiting cells are persisted for a reload.
    const record = JSON.parse(storage.getItem(STORAGE_KEY)!)[0];
    expect(record.held).toBe(true);
    expect(record.cells.map((c: any) => c.cellId)).toEqual(['c1', 'c2']);
    expect(manager.offers).toEqual([
      { generationId: GEN, path: 'a.ipynb', count: 2, open: false }
    ]);

    // Reopened from disk, where c1 was saved.
    const reopened = new FakeHandle('a.ipynb', notebookWith() as any);
    reopened.shared.insertCell(0, {
      ...server.events.find(e => e.data.cell_id === 'c1')!.data.cell
    });
    host.add(reopened);
    expect(cookbookIds(reopened.shared)).toEqual(['c1']); // nothing inserted without asking
    expect(manager.offers).toEqual([
      { generationId: GEN, path: 'a.ipynb', count: 1, open: true }
    ]);
    expect(await manager.acceptOffer(GEN)).toBe(1);
    expect(cookbookIds(reopened.shared)).toEqual(['c1', 'c2']);
    expect(manager.offers).toEqual([]);
  });

  it('discarding an offer keeps the notebook as it is', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    host.close('a.ipynb');
    server.validated('c1', 0, 'x = 1');
    server.emit('finished', {});
    await until(() => manager.get(GEN)!.progress.status === 'finished');
    const reopened = new FakeHandle('a.ipynb');
    host.add(reopened);
    manager.discardOffer(GEN);
    expect(manager.offers).toEqual([]);
    expect(cookbookIds(reopened.shared)).toEqual([]);
  });

  it('after a page reload, resumes from the start and restores unsaved cells without duplicates', async () => {
    const storage = new MemoryStore();
    const first = track(setup(storage));
    const handle = new FakeHandle('a.ipynb');
    first.host.add(handle);
    await first.manager.start(REQUEST, first.host.find('a.ipynb')!);
    first.server.validated('c1', 0, 'a = 1');
    first.server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    // Only c1 was saved before the reload.
    const onDisk = [handle.shared.cells[0].toJSON()];
    first.manager.dispose();

    const server = first.server;
    server.validated('c3', 2, 'c = 3');
    const host = new FakeHost();
    const manager = new GenerationManager({ api: server.api(), host, storage });
    managers.push(manager);
    const reloaded = new FakeHandle('a.ipynb', notebookWith() as any);
    onDisk.forEach((cell, i) => reloaded.shared.insertCell(i, cell as any));
    host.open.set('a.ipynb', reloaded);
    server.afters = [];
    manager.resumeAll();
    await until(() => cookbookIds(reloaded.shared).length === 3);
    expect(server.afters[0]).toBe(0);
    expect(cookbookIds(reloaded.shared)).toEqual(['c1', 'c2', 'c3']);
    server.emit('finished', {});
    await until(() => manager.get(GEN)!.record.settled);
    expect(cookbookIds(reloaded.shared)).toEqual(['c1', 'c2', 'c3']);
  });

  it('resumes from the last event seen after a dropped connection', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.validated('c1', 0, 'a = 1');
    await until(() => cookbookIds(handle.shared).length === 1);
    await until(() => server.afters.length === 2);
    server.failNext = 2;
    server.drop();
    await until(() => server.afters.length === 5);
    server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    // Every retry asked for what came after c1's event, never from the start.
    expect(server.afters.slice(0, 5)).toEqual([0, 1, 1, 1, 1]);
    expect(server.afters.slice(1)).not.toContain(0);
    expect(cookbookIds(handle.shared)).toEqual(['c1', 'c2']);
  });

  it('never puts back a cell the user deleted, even when the stream replays', async () => {
    const storage = new MemoryStore();
    const { server, host, manager } = track(setup(storage));
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.validated('c1', 0, 'a = 1');
    server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    handle.shared.deleteCell(0);
    await settle();
    // A new manager (a reload) replays everything.
    manager.dispose();
    const host2 = new FakeHost();
    const manager2 = new GenerationManager({
      api: server.api(),
      host: host2,
      storage
    });
    managers.push(manager2);
    host2.open.set('a.ipynb', handle);
    manager2.resumeAll();
    server.validated('c3', 2, 'c = 3');
    await until(() => cookbookIds(handle.shared).includes('c3'));
    expect(cookbookIds(handle.shared)).toEqual(['c2', 'c3']);
  });

  it('does not take a revert to the saved file for the user deleting cells', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb', notebookWith('mine') as any);
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.validated('c1', 0, 'a = 1');
    server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    const saved = (handle.shared as YNotebook).cells
      .slice(0, 2)
      .map(c => c.toJSON());
    handle.shared.fromJSON({
      cells: saved as any,
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5
    });
    await settle();
    expect(cookbookIds(handle.shared)).toEqual(['c1']);
    expect(manager.get(GEN)!.record.insertion.dismissed).toEqual([]);
  });

  it('takes out a withdrawn cell', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.validated('c1', 0, '## Try this', 'markdown');
    await until(() => cookbookIds(handle.shared).length === 1);
    server.emit('cell_invalidated', { cell_id: 'c1' });
    await until(() => cookbookIds(handle.shared).length === 0);
  });

  it('cancels through the API and shows "cancelling" at once', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.emit('started', {});
    await until(() => manager.get(GEN)!.progress.status === 'running');
    await manager.cancel(GEN);
    expect(server.cancelled).toEqual([GEN]);
    expect(manager.get(GEN)!.progress.status).toBe('cancelling');
    server.emit('cancelled', { message: 'stopped' });
    await until(() => manager.get(GEN)!.progress.status === 'cancelled');
  });

  it('answers an approval and stops asking', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: '!pip install x',
      reasons: ['installs packages']
    });
    await until(() => manager.get(GEN)!.progress.approvals.length === 1);
    await manager.answerApproval(GEN, 'ap1', true);
    expect(server.approvals).toEqual([['ap1', true]]);
    expect(manager.get(GEN)!.progress.approvals).toEqual([]);
  });

  it('settles an approval answered elsewhere when the server resolves it', async () => {
    const { server, host, manager } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await manager.start(REQUEST, handle);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: '!pip install x',
      reasons: ['installs packages']
    });
    await until(() => manager.get(GEN)!.progress.approvals.length === 1);
    server.emit('approval_resolved', {
      approval_id: 'ap1',
      cell_id: 'c2',
      approved: false
    });
    await until(() => manager.get(GEN)!.progress.approvals.length === 0);
    expect(server.approvals).toEqual([]);
  });

  it('inserts a past generation again, skipping cells already there', async () => {
    const { server, host, manager } = track(setup());
    server.validated('c1', 0, 'a = 1');
    server.validated('c2', 1, 'b = 2');
    server.emit('finished', {});
    const handle = new FakeHandle('b.ipynb', notebookWith('mine') as any);
    host.add(handle);
    expect(await manager.insertInto(GEN, handle)).toBe(2);
    expect(await manager.insertInto(GEN, handle)).toBe(0);
    expect(handle.shared.cells.map(c => c.getSource())).toEqual([
      'mine',
      'a = 1',
      'b = 2'
    ]);
  });
});
