import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';

import { CookbookAPIError, ICookbookEvent, IEventsPage } from '../api';
import { CookbookModel } from '../model';
import type { INotebookLike } from '../notebook';
import type { INotebookHandle, INotebookHost } from '../notebookHost';
import { IKeyValueStore, STORAGE_KEY } from '../persistence';
import { SettingsModel } from '../settings';

const GEN = 'f'.repeat(32);
const STATUS = {
  version: '0',
  providers: [],
  default_provider: 'offline',
  api_key_configured: false
};

/** A server that serves one generation's events as a long poll. */
class FakeServer {
  events: ICookbookEvent[] = [];
  done = false;
  afters: number[] = [];
  failNext = 0;
  started: any[] = [];
  cancelled: string[] = [];
  approvals: Array<[string, boolean]> = [];
  /** Approvals answered with "Trust this repository and run". */
  trusted: string[] = [];
  repos: Array<{
    id: string;
    source: string;
    name: string;
    trusted: boolean;
    trusted_at: number | null;
  }> = [];
  secrets: string[] = [];
  /** Calls to the list and status endpoints, in order. */
  calls: string[] = [];
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
        approved: boolean,
        trust?: boolean
      ) => {
        this.approvals.push([approvalId, approved]);
        if (trust) {
          this.trusted.push(approvalId);
        }
        return { approval_id: approvalId, approved, trusted: !!trust };
      },
      status: async () => {
        this.calls.push('status');
        return { ...STATUS, version: `0.${this.calls.length}` };
      },
      listRecipes: async () => ({
        recipes: [{ id: 'quickstart', title: 'Quickstart' }],
        errors: []
      }),
      listRepos: async () => {
        this.calls.push('listRepos');
        return this.repos.map(r => ({ ...r }));
      },
      getRepo: async (id: string) => {
        const repo = this.repos.find(r => r.id === id);
        if (!repo) {
          throw new CookbookAPIError(404, 'not_found', 'No such repository');
        }
        return { ...repo };
      },
      ingest: async (source: string) => {
        const repo = {
          id: `repo-${this.repos.length + 1}`,
          source,
          name: source,
          trusted: false,
          trusted_at: null
        };
        this.repos.unshift(repo);
        return { ...repo };
      },
      trustRepo: async (id: string, trusted: boolean) => {
        const repo = this.repos.find(r => r.id === id)!;
        repo.trusted = trusted;
        repo.trusted_at = trusted ? 1 : null;
        return { ...repo };
      },
      listSecrets: async () => {
        this.calls.push('listSecrets');
        return this.secrets.map(name => ({ name, hint: '…' }));
      },
      setSecret: async (name: string) => {
        this.secrets.push(name);
        return { name, hint: '…' };
      },
      deleteSecret: async (name: string) => {
        if (!this.secrets.includes(name)) {
          throw new CookbookAPIError(404, 'not_found', 'No such secret');
        }
        this.secrets = this.secrets.filter(n => n !== name);
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
  ran: string[] = [];
  runResult = { ok: true, output: '' };
  async runInKernel(code: string) {
    this.ran.push(code);
    return this.runResult;
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
  const model = new CookbookModel({
    api: server.api(),
    notebooks: host,
    storage,
    backoff: { initial: 1, max: 5, factor: 2 }
  });
  return { server, host, model, storage };
}

const REQUEST = {
  repo_id: 'r'.repeat(32),
  prompt: 'p',
  template: 'quickstart',
  complexity: 'basic' as const
};

describe('CookbookModel generations', () => {
  let models: CookbookModel[] = [];
  afterEach(() => {
    models.forEach(m => m.dispose());
    models = [];
  });

  function track<T extends { model: CookbookModel }>(x: T): T {
    models.push(x.model);
    return x;
  }

  it('starts with the notebook kernel and inserts validated cells after the active cell', async () => {
    const { server, host, model, storage } = track(setup());
    const handle = new FakeHandle(
      'a.ipynb',
      notebookWith('first', 'second') as any
    );
    handle.activeId = 'user-0';
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path, {
      placement: 'after-active'
    });
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
    const { server, host, model } = track(setup());
    const target = new FakeHandle('target.ipynb');
    const other = new FakeHandle('other.ipynb');
    host.add(target);
    host.add(other);
    host.currentPath = 'target.ipynb';
    await model.startGeneration(REQUEST, target.path);
    host.currentPath = 'other.ipynb';
    server.validated('c1', 0, 'x = 1');
    await until(() => cookbookIds(target.shared).length === 1);
    expect(cookbookIds(other.shared)).toEqual([]);
  });

  it('keeps the cells of a closed target and offers them when it is reopened', async () => {
    const { server, host, model, storage } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.validated('c1', 0, 'x = 1');
    await until(() => cookbookIds(handle.shared).length === 1);

    host.close('a.ipynb');
    server.validated('c2', 1, 'y = 2');
    server.emit('finished', {});
    await until(() => model.get(GEN)!.progress.status === 'finished');
    // The waiting cells are persisted for a reload.
    const record = JSON.parse(storage.getItem(STORAGE_KEY)!)[0];
    expect(record.held).toBe(true);
    expect(record.cells.map((c: any) => c.cellId)).toEqual(['c1', 'c2']);
    expect(model.offers).toEqual([
      { generationId: GEN, path: 'a.ipynb', count: 2, open: false }
    ]);

    // Reopened from disk, where c1 was saved.
    const reopened = new FakeHandle('a.ipynb', notebookWith() as any);
    reopened.shared.insertCell(0, {
      ...server.events.find(e => e.data.cell_id === 'c1')!.data.cell
    });
    host.add(reopened);
    expect(cookbookIds(reopened.shared)).toEqual(['c1']); // nothing inserted without asking
    expect(model.offers).toEqual([
      { generationId: GEN, path: 'a.ipynb', count: 1, open: true }
    ]);
    expect(await model.acceptOffer(GEN)).toBe(1);
    expect(cookbookIds(reopened.shared)).toEqual(['c1', 'c2']);
    expect(model.offers).toEqual([]);
  });

  it('discarding an offer keeps the notebook as it is', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    host.close('a.ipynb');
    server.validated('c1', 0, 'x = 1');
    server.emit('finished', {});
    await until(() => model.get(GEN)!.progress.status === 'finished');
    const reopened = new FakeHandle('a.ipynb');
    host.add(reopened);
    model.discardOffer(GEN);
    expect(model.offers).toEqual([]);
    expect(cookbookIds(reopened.shared)).toEqual([]);
  });

  it('after a page reload, resumes from the start and restores unsaved cells without duplicates', async () => {
    const storage = new MemoryStore();
    const first = track(setup(storage));
    const handle = new FakeHandle('a.ipynb');
    first.host.add(handle);
    await first.model.startGeneration(REQUEST, 'a.ipynb');
    first.server.validated('c1', 0, 'a = 1');
    first.server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    // Only c1 was saved before the reload.
    const onDisk = [handle.shared.cells[0].toJSON()];
    first.model.dispose();

    const server = first.server;
    server.validated('c3', 2, 'c = 3');
    const host = new FakeHost();
    const model = new CookbookModel({
      api: server.api(),
      notebooks: host,
      storage
    });
    models.push(model);
    const reloaded = new FakeHandle('a.ipynb', notebookWith() as any);
    onDisk.forEach((cell, i) => reloaded.shared.insertCell(i, cell as any));
    host.open.set('a.ipynb', reloaded);
    server.afters = [];
    model.restore();
    await until(() => cookbookIds(reloaded.shared).length === 3);
    expect(server.afters[0]).toBe(0);
    expect(cookbookIds(reloaded.shared)).toEqual(['c1', 'c2', 'c3']);
    server.emit('finished', {});
    await until(() => model.get(GEN)!.record.settled);
    expect(cookbookIds(reloaded.shared)).toEqual(['c1', 'c2', 'c3']);
  });

  it('resumes from the last event seen after a dropped connection', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
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
    const { server, host, model } = track(setup(storage));
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.validated('c1', 0, 'a = 1');
    server.validated('c2', 1, 'b = 2');
    await until(() => cookbookIds(handle.shared).length === 2);
    handle.shared.deleteCell(0);
    await settle();
    // A new model (a reload) replays everything.
    model.dispose();
    const host2 = new FakeHost();
    const model2 = new CookbookModel({
      api: server.api(),
      notebooks: host2,
      storage
    });
    models.push(model2);
    host2.open.set('a.ipynb', handle);
    model2.restore();
    server.validated('c3', 2, 'c = 3');
    await until(() => cookbookIds(handle.shared).includes('c3'));
    expect(cookbookIds(handle.shared)).toEqual(['c2', 'c3']);
  });

  it('does not take a revert to the saved file for the user deleting cells', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb', notebookWith('mine') as any);
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
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
    expect(model.get(GEN)!.record.insertion.dismissed).toEqual([]);
  });

  it('takes out a withdrawn cell', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.validated('c1', 0, '## Try this', 'markdown');
    await until(() => cookbookIds(handle.shared).length === 1);
    server.emit('cell_invalidated', { cell_id: 'c1' });
    await until(() => cookbookIds(handle.shared).length === 0);
  });

  it('cancels through the API and shows "cancelling" at once', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.emit('started', {});
    await until(() => model.get(GEN)!.progress.status === 'running');
    await model.cancel(GEN);
    expect(server.cancelled).toEqual([GEN]);
    expect(model.get(GEN)!.progress.status).toBe('cancelling');
    server.emit('cancelled', { message: 'stopped' });
    await until(() => model.get(GEN)!.progress.status === 'cancelled');
  });

  it('answers an approval and stops asking', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: '!pip install x',
      reasons: ['installs packages']
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 1);
    await model.answerApproval(GEN, 'ap1', true);
    expect(server.approvals).toEqual([['ap1', true]]);
    expect(model.get(GEN)!.progress.approvals).toEqual([]);
  });

  it('passes "trust this repository and run" on to the server', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: 'print("hello from the repo")',
      reasons: ['code from an untrusted repository'],
      origin: 'repository',
      untrusted: true,
      repo: { id: 'r1', label: 'o/r' }
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 1);
    expect(model.get(GEN)!.progress.approvals[0].repo).toEqual({
      id: 'r1',
      label: 'o/r'
    });
    await model.answerApproval(GEN, 'ap1', true, true);
    expect(server.approvals).toEqual([['ap1', true]]);
    expect(server.trusted).toEqual(['ap1']);
    expect(model.get(GEN)!.progress.approvals).toEqual([]);
  });

  it('does not trust when the user only runs the cell', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: 'print(1)',
      reasons: ['code from an untrusted repository'],
      origin: 'repository',
      untrusted: true,
      repo: { id: 'r1', label: 'o/r' }
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 1);
    await model.answerApproval(GEN, 'ap1', true);
    expect(server.trusted).toEqual([]);
  });

  it('settles an approval answered elsewhere when the server resolves it', async () => {
    const { server, host, model } = track(setup());
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    await model.startGeneration(REQUEST, handle.path);
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c2',
      source: '!pip install x',
      reasons: ['installs packages']
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 1);
    server.emit('approval_resolved', {
      approval_id: 'ap1',
      cell_id: 'c2',
      approved: false
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 0);
    expect(server.approvals).toEqual([]);
  });

  it('inserts a past generation again, skipping cells already there', async () => {
    const { server, host, model } = track(setup());
    server.validated('c1', 0, 'a = 1');
    server.validated('c2', 1, 'b = 2');
    server.emit('finished', {});
    const handle = new FakeHandle('b.ipynb', notebookWith('mine') as any);
    host.add(handle);
    expect(await model.insertInto(GEN, 'b.ipynb')).toBe(2);
    expect(await model.insertInto(GEN, 'b.ipynb')).toBe(0);
    expect(handle.shared.cells.map(c => c.getSource())).toEqual([
      'mine',
      'a = 1',
      'b = 2'
    ]);
  });
});

describe('CookbookModel signals', () => {
  let models: CookbookModel[] = [];
  afterEach(() => {
    models.forEach(m => m.dispose());
    models = [];
  });

  function tracked(storage = new MemoryStore()) {
    const x = setup(storage);
    models.push(x.model);
    return x;
  }

  /** Every emission of the model's generation signals, as "signal:detail". */
  function record(model: CookbookModel): string[] {
    const log: string[] = [];
    model.generationStarted.connect((_, g) => log.push(`started:${g.id}`));
    model.eventsReceived.connect((_, { events }) =>
      log.push(`events:${events.map(e => e.type).join(',')}`)
    );
    model.cellsInserted.connect((_, { path, cellIds }) =>
      log.push(`inserted:${path}:${cellIds.join(',')}`)
    );
    model.generationFinished.connect((_, g) =>
      log.push(`finished:${g.progress.status}`)
    );
    return log;
  }

  it('announces a generation starting, its events, its cells going in, and its end', async () => {
    const { server, host, model } = tracked();
    const handle = new FakeHandle('a.ipynb');
    host.add(handle);
    const log = record(model);
    const gen = await model.startGeneration(REQUEST, 'a.ipynb');
    expect(log).toEqual([`started:${GEN}`]);
    server.validated('c1', 0, 'x = 1');
    await until(() => log.some(l => l.startsWith('inserted')));
    server.emit('finished', {});
    await until(() => log.some(l => l.startsWith('finished')));
    expect(log).toEqual([
      `started:${GEN}`,
      'events:cell_validated',
      'inserted:a.ipynb:c1',
      'events:finished',
      'finished:finished'
    ]);
    expect(gen.settled).toBe(true);
  });

  it('tells every change of a generation to its listeners', async () => {
    const { server, host, model } = tracked();
    host.add(new FakeHandle('a.ipynb'));
    const statuses: string[] = [];
    model.generationChanged.connect((_, g) => {
      if (g.id === GEN && statuses[statuses.length - 1] !== g.progress.status) {
        statuses.push(g.progress.status);
      }
    });
    await model.startGeneration(REQUEST, 'a.ipynb');
    server.emit('started', {});
    await until(() => statuses.includes('running'));
    await model.cancel(GEN);
    server.emit('cancelled', {});
    await until(() => statuses.includes('cancelled'));
    expect(statuses).toEqual([
      'starting',
      'running',
      'cancelling',
      'cancelled'
    ]);
  });

  it('does not announce the end of a generation viewed from the history', async () => {
    const { server, model } = tracked();
    server.validated('c1', 0, 'a = 1');
    server.emit('finished', {});
    const log = record(model);
    const gen = model.view(GEN);
    await until(() => gen.progress.status === 'finished');
    await settle();
    expect(gen.local).toBe(false);
    expect(log).toEqual(['events:cell_validated,finished']);
  });

  it('starts into the current notebook when no target is given', async () => {
    const { server, host, model } = tracked();
    const handle = new FakeHandle('current.ipynb');
    host.add(handle);
    host.currentPath = 'current.ipynb';
    const gen = await model.startGeneration(REQUEST);
    expect(gen.path).toBe('current.ipynb');
    expect(server.started).toHaveLength(1);
  });

  it('refuses to start when the target notebook is not open, asking the server nothing', async () => {
    const { server, model } = tracked();
    await expect(model.startGeneration(REQUEST, 'gone.ipynb')).rejects.toThrow(
      'gone.ipynb is not open.'
    );
    await expect(model.startGeneration(REQUEST)).rejects.toThrow(
      'No notebook is open.'
    );
    expect(server.started).toEqual([]);
  });

  it("asks with the user's approval setting unless the request says otherwise", async () => {
    const settings = new SettingsModel();
    const server = new FakeServer();
    const host = new FakeHost();
    const model = new CookbookModel({
      api: server.api(),
      notebooks: host,
      settings
    });
    models.push(model);
    host.add(new FakeHandle('a.ipynb'));
    settings.attach({
      composite: { approval: 'always' },
      changed: new Signal<any, void>({})
    } as any);
    await model.startGeneration(REQUEST, 'a.ipynb');
    expect(server.started[0].approval).toBe('always');
    server.emit('finished', {});
    await until(() => model.get(GEN)!.settled);
    await model.startGeneration({ ...REQUEST, approval: 'never' }, 'a.ipynb');
    expect(server.started[1].approval).toBe('never');
  });

  it('times the streamed cells that reach the notebook', async () => {
    const { server, host, model } = tracked();
    host.add(new FakeHandle('a.ipynb'));
    await model.startGeneration(REQUEST, 'a.ipynb');
    server.validated('c1', 0, 'x = 1');
    await until(() => model.insertionMetrics.length === 1);
    const [metric] = model.insertionMetrics;
    expect(metric).toMatchObject({ generationId: GEN, cellId: 'c1' });
    expect(metric.insertedAt).toBeGreaterThanOrEqual(metric.receivedAt);
  });

  it('adds an ingested repository to its repositories, first', async () => {
    const { server, model } = tracked();
    server.repos.push({
      id: 'old',
      source: 'old',
      name: 'old',
      trusted: false,
      trusted_at: null
    });
    await model.refreshRepos();
    const seen: string[][] = [];
    model.reposChanged.connect((_, repos) => seen.push(repos.map(r => r.id)));
    const repo = await model.ingest('fixtures/new');
    expect(seen).toEqual([[repo.id, 'old']]);
    expect(model.repo(repo.id)).toEqual(repo);
  });

  it('replaces a repository’s summary when its trust changes', async () => {
    const { model } = tracked();
    const repo = await model.ingest('fixtures/r');
    const changed: boolean[] = [];
    model.reposChanged.connect(() =>
      changed.push(model.repo(repo.id)!.trusted)
    );
    await model.trustRepo(repo.id, true);
    await model.trustRepo(repo.id, false);
    expect(changed).toEqual([true, false]);
    expect(model.repos).toHaveLength(1);
  });

  it('remembers a repository it saw even when a later list leaves it out', async () => {
    const { server, model } = tracked();
    const repo = await model.ingest('fixtures/r');
    server.repos = [];
    await model.refreshRepos();
    expect(model.repos).toEqual([]);
    expect(model.repo(repo.id)?.source).toBe('fixtures/r');
  });

  it('refreshes the repository trusted from an approval', async () => {
    const { server, host, model } = tracked();
    const repo = await model.ingest('fixtures/r');
    host.add(new FakeHandle('a.ipynb'));
    await model.startGeneration(REQUEST, 'a.ipynb');
    server.emit('approval_required', {
      approval_id: 'ap1',
      cell_id: 'c1',
      source: 'print(1)',
      reasons: ['code from an untrusted repository'],
      origin: 'repository',
      untrusted: true,
      repo: { id: repo.id, label: 'o/r' }
    });
    await until(() => model.get(GEN)!.progress.approvals.length === 1);
    // The server trusts it as it takes the answer.
    server.repos[0].trusted = true;
    await model.answerApproval(GEN, 'ap1', true, true);
    await until(() => model.repo(repo.id)!.trusted);
  });

  it('tells the status to its listeners', async () => {
    const { model } = tracked();
    const seen: Array<string | undefined> = [];
    model.statusChanged.connect((_, status) => seen.push(status?.version));
    const status = await model.refreshStatus();
    expect(model.status).toBe(status);
    expect(seen).toEqual([status.version]);
  });

  it('asks again for the secrets and the status after a secret is saved or deleted', async () => {
    const { server, model } = tracked();
    const names: string[][] = [];
    model.secretsChanged.connect((_, secrets) =>
      names.push((secrets ?? []).map(s => s.name))
    );
    await model.setSecret('HF_TOKEN', 'hf_x');
    await until(() => names.length === 1 && model.status !== null);
    await model.deleteSecret('HF_TOKEN');
    await until(() => names.length === 2);
    expect(names).toEqual([['HF_TOKEN'], []]);
    expect(server.calls.filter(c => c === 'status')).toHaveLength(2);
  });

  it('still asks again after deleting a secret that was gone already', async () => {
    const { model } = tracked();
    const seen: number[] = [];
    model.secretsChanged.connect((_, secrets) => seen.push(secrets!.length));
    await expect(model.deleteSecret('GONE')).rejects.toThrow('No such secret');
    await until(() => seen.length === 1);
  });

  it('lists the secrets sorted by name', async () => {
    const { server, model } = tracked();
    server.secrets = ['b', 'A', 'a'];
    const secrets = await model.refreshSecrets();
    expect(secrets.map(s => s.name)).toEqual(['A', 'a', 'b']);
    expect(model.secrets).toBe(secrets);
  });

  it('reads what it remembers only when first asked', async () => {
    const storage = new MemoryStore();
    const reads: string[] = [];
    const spying: IKeyValueStore = {
      getItem: key => {
        reads.push(key);
        return storage.getItem(key);
      },
      setItem: (key, value) => storage.setItem(key, value),
      removeItem: key => storage.removeItem(key)
    };
    const { model } = tracked(spying as MemoryStore);
    expect(reads).toEqual([]);
    expect(model.generations).toEqual([]);
    expect(reads).toEqual([STORAGE_KEY]);
  });
});
