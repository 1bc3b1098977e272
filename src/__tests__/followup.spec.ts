/**
 * The generations a browser starts, seen through ICookbook: follow-ups with
 * memory, replacing the previous run, removing a run, retrying, approvals
 * that cannot be missed.
 */
import { YNotebook } from '@jupyter/ydoc';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Title, Widget } from '@lumino/widgets';

import { ApprovalAlerts, INotifier } from '../alerts';
import type { ICookbookEvent } from '../api';
import { CookbookModel } from '../model';
import type { INotebookLike } from '../notebook';
import type { INotebookHandle, INotebookHost } from '../notebookHost';
import { installCode, isRequirement } from '../runner';
import { statusText } from '../statusItem';
import type { ICookbookSidebar } from '../tokens';

const trans = nullTranslator.load('cookbook_ext');

/** A server with any number of generations, each a long-polled event log. */
class Server {
  logs = new Map<string, ICookbookEvent[]>();
  started: any[] = [];
  answered: Array<[string, boolean]> = [];
  private _waiters: Array<() => void> = [];

  emit(id: string, type: string, data: any = {}): void {
    const log = this.logs.get(id)!;
    log.push({ seq: log.length + 1, type, data, ts: Date.now() / 1000 });
    this._waiters.splice(0).forEach(w => w());
  }

  validated(
    id: string,
    cellId: string,
    index: number,
    source: string,
    extra: any = {}
  ): void {
    this.emit(id, 'cell_validated', {
      cell_id: cellId,
      index,
      cell: {
        cell_type: 'code',
        source,
        outputs: [
          { output_type: 'stream', name: 'stdout', text: `${source}!\n` }
        ],
        execution_count: 1,
        metadata: { cookbook: { generation_id: id, cell_id: cellId } }
      },
      ...extra
    });
  }

  api(): any {
    const start = async (body: any) => {
      const id = String(this.started.length + 1).repeat(32);
      this.started.push(body);
      this.logs.set(id, []);
      return { id };
    };
    return {
      startGeneration: start,
      startFollowUp: start,
      getGeneration: async (id: string) => ({
        id,
        status: 'finished',
        request: this.started[Number(id[0]) - 1]
      }),
      answerApproval: async (
        _: string,
        approvalId: string,
        approved: boolean
      ) => {
        this.answered.push([approvalId, approved]);
        return { approval_id: approvalId, approved };
      },
      events: async (
        id: string,
        after: number,
        timeout: number,
        signal?: AbortSignal
      ) => {
        const log = this.logs.get(id) ?? [];
        const done = () =>
          log.some(e => ['finished', 'failed', 'cancelled'].includes(e.type));
        while (!log.some(e => e.seq > after) && !done() && timeout !== 0) {
          await new Promise<void>((resolve, reject) => {
            this._waiters.push(resolve);
            signal?.addEventListener('abort', () => {
              const error = new Error('aborted');
              error.name = 'AbortError';
              reject(error);
            });
          });
        }
        return { events: log.filter(e => e.seq > after), done: done() };
      }
    };
  }
}

class Handle implements INotebookHandle {
  constructor(
    public path: string,
    public shared: INotebookLike & YNotebook = YNotebook.create() as any
  ) {
    this.shared.changed.connect(() => this._changed.emit(), this);
  }
  active: string | null = null;
  ran: string[] = [];
  result = { ok: true, output: '' };
  get cellsChanged(): Signal<INotebookHandle, void> {
    return this._changed;
  }
  activeCellId() {
    return this.active;
  }
  async ensureKernel() {
    return 'k-1';
  }
  kernelId() {
    return 'k-1';
  }
  async runInKernel(code: string) {
    this.ran.push(code);
    return this.result;
  }
  private _changed: Signal<INotebookHandle, void> = new Signal<
    INotebookHandle,
    void
  >(this);
}

class Host implements INotebookHost {
  handles = new Map<string, Handle>();
  readonly opened: Signal<INotebookHost, string> = new Signal(this);
  readonly closed: Signal<INotebookHost, string> = new Signal(this);
  readonly renamed: Signal<
    INotebookHost,
    { oldPath: string; newPath: string }
  > = new Signal(this);
  readonly currentChanged: Signal<INotebookHost, void> = new Signal(this);
  find(path: string) {
    return this.handles.get(path) ?? null;
  }
  current() {
    return this.handles.values().next().value ?? null;
  }
  add(handle: Handle) {
    this.handles.set(handle.path, handle);
    this.opened.emit(handle.path);
  }
}

const REQUEST = {
  repo_id: 'r'.repeat(32),
  prompt: 'Score reviews',
  template: 'quickstart',
  complexity: 'basic' as const
};

async function until(predicate: () => boolean, timeout = 3000): Promise<void> {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) {
      throw new Error('timed out');
    }
    await new Promise(r => setTimeout(r, 5));
  }
}

function sources(nb: YNotebook): string[] {
  return nb.cells.map(c => c.getSource());
}

let models: CookbookModel[] = [];
afterEach(() => {
  models.forEach(m => m.dispose());
  models = [];
});

function setup() {
  const server = new Server();
  const host = new Host();
  const handle = new Handle('nb.ipynb');
  host.add(handle);
  const model = new CookbookModel({
    api: server.api(),
    notebooks: host,
    storage: null
  });
  models.push(model);
  return { server, host, handle, model };
}

/** Run a generation to its end with `sources` as its cells. */
async function finishedRun(
  ctx: ReturnType<typeof setup>,
  cells: string[],
  options: any = {}
) {
  const gen = await ctx.model.startGeneration(REQUEST, 'nb.ipynb', options);
  cells.forEach((s, i) => ctx.server.validated(gen.id, `c${i + 1}`, i, s));
  ctx.server.emit(gen.id, 'finished', {});
  await until(() => gen.settled);
  return gen;
}

describe('a follow-up', () => {
  it('sends the notebook as it is now, the user’s edits and own cells marked', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    handle.shared.insertCell(0, {
      cell_type: 'code',
      source: 'mine = 1',
      metadata: {}
    });
    const parent = await finishedRun(ctx, ['a = 1', 'b = 2']);
    handle.shared.cells[2].setSource('b = 3  # edited');
    await model.followUp(parent.id, ' now plot it ');
    const body = server.started[1];
    expect(body).toMatchObject({
      parent_id: parent.id,
      prompt: 'now plot it',
      kernel_id: 'k-1'
    });
    expect(body.repo_id).toBeUndefined();
    expect(
      body.notebook_cells.map((c: any) => [c.source, c.edited, c.outputs_text])
    ).toEqual([
      ['mine = 1', true, ''],
      ['a = 1', false, 'a = 1!'],
      ['b = 3  # edited', true, 'b = 2!']
    ]);
    expect(body.notebook_cells[1].id).toBe(handle.shared.cells[1].id);
  });

  it('adds its cells after the parent’s, even when the user added cells below', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    const parent = await finishedRun(ctx, ['a = 1', 'b = 2']);
    handle.shared.insertCell(2, {
      cell_type: 'code',
      source: 'mine',
      metadata: {}
    });
    const child = await model.followUp(parent.id, 'add a plot');
    expect(child.parentId).toBe(parent.id);
    server.validated(child.id, 'f1', 0, 'plot()');
    await until(() => sources(handle.shared).includes('plot()'));
    expect(sources(handle.shared)).toEqual([
      'a = 1',
      'b = 2',
      'plot()',
      'mine'
    ]);
  });

  it('asks before replacing a cell the user edited, then replaces it as one unit', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    const parent = await finishedRun(ctx, ['a = 1', 'b = 2']);
    handle.shared.cells[1].setSource('b = 20');
    const target = handle.shared.cells[1].id;
    const child = await model.followUp(parent.id, 'fix b');
    server.validated(child.id, 'f1', 0, 'b = 200', {
      replaces: target,
      replaces_edited: true
    });
    await until(() => child.pendingReplacements.length === 1);
    expect(child.pendingReplacements[0]).toMatchObject({
      target,
      oldSource: 'b = 20',
      newSource: 'b = 200'
    });
    expect(sources(handle.shared)).toEqual(['a = 1', 'b = 20']);
    model.answerReplacement(child.id, 'f1', 'replace');
    expect(sources(handle.shared)).toEqual(['a = 1', 'b = 200']);
    expect(child.pendingReplacements).toEqual([]);
    server.emit(child.id, 'finished', {});
    await until(() => child.settled);
  });

  it('"keep mine" leaves the user’s cell and never inserts the new one', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    const parent = await finishedRun(ctx, ['a = 1']);
    const target = handle.shared.cells[0].id;
    const child = await model.followUp(parent.id, 'change a');
    server.validated(child.id, 'f1', 0, 'a = 2', {
      replaces: target,
      replaces_edited: true
    });
    await until(() => child.pendingReplacements.length === 1);
    model.answerReplacement(child.id, 'f1', 'skip');
    server.emit(child.id, 'finished', {});
    await until(() => child.settled);
    expect(sources(handle.shared)).toEqual(['a = 1']);
  });
});

describe('one run, one unit', () => {
  it('"Replace the previous run" puts the new cells where the old ones were', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    handle.shared.insertCell(0, {
      cell_type: 'code',
      source: 'top',
      metadata: {}
    });
    const first = await finishedRun(ctx, ['a = 1', 'b = 2']);
    handle.shared.insertCell(3, {
      cell_type: 'code',
      source: 'bottom',
      metadata: {}
    });
    expect(model.previousRun('nb.ipynb')).toEqual({
      generationId: first.id,
      cells: 2
    });
    const second = await model.startGeneration(REQUEST, 'nb.ipynb', {
      replacePrevious: true
    });
    // Nothing goes before the new run has a cell to put in its place.
    expect(sources(handle.shared)).toEqual(['top', 'a = 1', 'b = 2', 'bottom']);
    server.validated(second.id, 'c1', 0, 'x = 1');
    server.validated(second.id, 'c2', 1, 'y = 2');
    await until(() => sources(handle.shared).includes('y = 2'));
    expect(sources(handle.shared)).toEqual(['top', 'x = 1', 'y = 2', 'bottom']);
  });

  it('removes a run’s cells, and a replay never puts them back', async () => {
    const ctx = setup();
    const { handle, model, server } = ctx;
    const gen = await model.startGeneration(REQUEST, 'nb.ipynb');
    server.validated(gen.id, 'c1', 0, 'a = 1');
    await until(() => handle.shared.cells.length === 1);
    expect(model.removeCells(gen.id)).toBe(1);
    expect(handle.shared.cells.length).toBe(0);
    server.validated(gen.id, 'c2', 1, 'b = 2');
    server.validated(gen.id, 'c1', 0, 'a = 1');
    await until(() => sources(handle.shared).includes('b = 2'));
    expect(sources(handle.shared)).toEqual(['b = 2']);
  });

  it('inserts again as clean cells, outputs kept or cleared', async () => {
    const ctx = setup();
    const { model } = ctx;
    const gen = await finishedRun(ctx, ['a = 1']);
    const other = new Handle('other.ipynb');
    ctx.host.add(other);
    await model.insertInto(gen.id, 'other.ipynb', { outputs: 'clear' });
    const cell = other.shared.cells[0].toJSON() as any;
    expect(cell.execution_count).toBeNull();
    expect(cell.outputs).toEqual([]);
    const third = new Handle('third.ipynb');
    ctx.host.add(third);
    await model.insertInto(gen.id, 'third.ipynb', { outputs: 'keep' });
    const kept = third.shared.cells[0].toJSON() as any;
    expect(kept.execution_count).toBeNull();
    expect(kept.outputs).toHaveLength(1);
    expect(kept.metadata.cookbook.outputs_from.generation_id).toBe(gen.id);
  });
});

describe('inserting a run again where it is', () => {
  it('leaves the cells that are there as they are, outputs included', async () => {
    const ctx = setup();
    const gen = await finishedRun(ctx, ['a = 1']);
    expect(
      await ctx.model.insertInto(gen.id, 'nb.ipynb', { outputs: 'clear' })
    ).toBe(0);
    const cell = ctx.handle.shared.cells[0].toJSON() as any;
    expect(cell.outputs).toHaveLength(1);
    expect(ctx.handle.shared.cells).toHaveLength(1);
  });
});

describe('a failed run’s next steps', () => {
  it('retries with the same request, or another provider', async () => {
    const ctx = setup();
    const { model, server } = ctx;
    const gen = await model.startGeneration(REQUEST, 'nb.ipynb');
    server.emit(gen.id, 'failed', { message: 'no' });
    await until(() => gen.settled);
    await model.retry(gen.id, { provider: 'anthropic' });
    expect(server.started[1]).toMatchObject({
      ...REQUEST,
      provider: 'anthropic'
    });
  });

  it('installs the packages in the notebook’s kernel, then retries', async () => {
    const ctx = setup();
    const { model, server, handle } = ctx;
    const gen = await model.startGeneration(REQUEST, 'nb.ipynb');
    server.emit(gen.id, 'failed', { message: 'no torch' });
    await until(() => gen.settled);
    await model.installAndRetry(gen.id, ['torch==2.3.1']);
    expect(handle.ran[0]).toContain('"torch==2.3.1"');
    expect(server.started).toHaveLength(2);
    handle.result = {
      ok: false,
      output: 'ERROR: nope\nRuntimeError: pip install failed: nope\n'
    };
    await expect(model.installAndRetry(gen.id, ['torch'])).rejects.toThrow(
      'pip install failed: nope'
    );
    expect(server.started).toHaveLength(2);
  });

  it('never hands pip anything but a package name and version', () => {
    expect(isRequirement('torch')).toBe(true);
    expect(isRequirement('transformers>=4.40,<5')).toBe(true);
    expect(isRequirement('black[jupyter]==24.1')).toBe(true);
    expect(isRequirement('--index-url=http://evil')).toBe(false);
    expect(isRequirement('torch; rm -rf /')).toBe(false);
    expect(isRequirement('git+https://x/y')).toBe(false);
    expect(() => installCode(['ok', '-e .'])).toThrow(
      'Not a package to install: -e .'
    );
    expect(() => installCode([])).toThrow('No package to install.');
  });
});

describe('approvals you cannot miss', () => {
  class Notifier implements INotifier {
    shown: Array<{ id: string; message: string; actions: any[] }> = [];
    dismissed: string[] = [];
    warning(message: string, options: any): string {
      const id = `n${this.shown.length + 1}`;
      this.shown.push({ id, message, actions: options.actions });
      return id;
    }
    dismiss(id?: string): void {
      this.dismissed.push(id!);
    }
  }

  function alerts(ctx: ReturnType<typeof setup>, visible = false) {
    const notifier = new Notifier();
    const title = new Title<Widget>({
      owner: new Widget(),
      caption: 'Cookbook'
    });
    const shown: string[] = [];
    const sidebar: ICookbookSidebar = {
      id: 'x',
      isVisible: visible,
      show: async () => undefined,
      requestGenerate: async () => undefined,
      showGeneration: async id => {
        shown.push(id);
      }
    };
    new ApprovalAlerts({ model: ctx.model, sidebar, title, trans, notifier });
    return { notifier, title, shown };
  }

  it('count on the sidebar icon and notify with Run / Skip while the panel is hidden', async () => {
    const ctx = setup();
    const { notifier, title } = alerts(ctx);
    const gen = await ctx.model.startGeneration(REQUEST, 'nb.ipynb');
    ctx.server.emit(gen.id, 'approval_required', {
      approval_id: 'a1',
      cell_id: 'c1',
      title: 'Install torch',
      reasons: ['installs packages'],
      details: ['pip install torch==2.3.1']
    });
    await until(() => notifier.shown.length === 1);
    expect(title.dataset['cookbook-pending']).toBe('1');
    expect(title.className).toContain('jp-Cookbook-mod-pending');
    expect(title.caption).toBe('Cookbook: 1 cell is waiting for your approval');
    expect(notifier.shown[0].message).toContain('pip install torch==2.3.1');
    expect(notifier.shown[0].actions.map((a: any) => a.label)).toEqual([
      'Run',
      'Skip',
      'Show'
    ]);
    expect(statusText(trans, ctx.model)!.text).toBe(
      'Cookbook: 1 cell waiting for your approval'
    );
    notifier.shown[0].actions[0].callback(new MouseEvent('click'));
    await until(() => ctx.server.answered.length === 1);
    expect(ctx.server.answered).toEqual([['a1', true]]);
    ctx.server.emit(gen.id, 'approval_resolved', {
      approval_id: 'a1',
      approved: true
    });
    await until(() => title.dataset['cookbook-pending'] === undefined);
    expect(title.caption).toBe('Cookbook');
  });

  it('offer no Run for code from an untrusted repository: it is run from the card, seen whole', async () => {
    const ctx = setup();
    const { notifier } = alerts(ctx);
    const gen = await ctx.model.startGeneration(REQUEST, 'nb.ipynb');
    ctx.server.emit(gen.id, 'approval_required', {
      approval_id: 'a1',
      cell_id: 'c1',
      reasons: ['copied from the repository'],
      origin: 'repository',
      untrusted: true,
      repo: { id: 'r1', label: 'o/r' }
    });
    await until(() => notifier.shown.length === 1);
    expect(notifier.shown[0].actions.map((a: any) => a.label)).toEqual([
      'Skip',
      'Show'
    ]);
  });

  it('go away when the question is answered elsewhere', async () => {
    const ctx = setup();
    const { notifier } = alerts(ctx);
    const gen = await ctx.model.startGeneration(REQUEST, 'nb.ipynb');
    ctx.server.emit(gen.id, 'approval_required', {
      approval_id: 'a1',
      cell_id: 'c1',
      reasons: []
    });
    await until(() => notifier.shown.length === 1);
    ctx.server.emit(gen.id, 'approval_resolved', {
      approval_id: 'a1',
      approved: false
    });
    await until(() => notifier.dismissed.length === 1);
    expect(notifier.dismissed).toEqual(['n1']);
  });

  it('leave it to the panel when it is showing', async () => {
    const ctx = setup();
    const { notifier, title } = alerts(ctx, true);
    const gen = await ctx.model.startGeneration(REQUEST, 'nb.ipynb');
    ctx.server.emit(gen.id, 'approval_required', {
      approval_id: 'a1',
      cell_id: 'c1',
      reasons: []
    });
    await until(() => title.dataset['cookbook-pending'] === '1');
    expect(notifier.shown).toEqual([]);
  });
});
