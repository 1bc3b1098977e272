import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';

import { CookbookAPIError, IGeneration } from '../api';
import { canRunAgain, runAgainRequest, versionUnavailable } from '../history';
import { CookbookModel } from '../model';
import type { INotebookLike } from '../notebook';
import type { INotebookHandle, INotebookHost } from '../notebookHost';

const REPO = 'a'.repeat(32);
const PAST = 'b'.repeat(32);
const NEW = 'c'.repeat(32);

/** A finished generation as `GET cookbook/generations/{id}` answers it. */
function past(extra: Partial<IGeneration> = {}): IGeneration {
  return {
    id: PAST,
    status: 'finished',
    provider: 'offline',
    model: null,
    template: 'quickstart',
    recipe: { id: 'quickstart', version: '1.0.0', sha256: 'f'.repeat(64) },
    request: {
      repo_id: REPO,
      prompt: 'Summarise German news',
      template: 'quickstart',
      template_version: '1.0.0',
      inputs: { samples: 5 },
      topic: 'news',
      complexity: 'intermediate',
      hf_model_id: 'org/model',
      approval: 'never',
      secrets: ['HF_TOKEN'],
      keep_secrets: true,
      trust: true,
      kernel_id: 'old-kernel',
      verify: 'fresh_kernel'
    },
    ...extra
  };
}

const GONE = new CookbookAPIError(
  409,
  'recipe_version_unavailable',
  'The recipe quickstart is no longer available at version 1.0.0; this server has 1.2.0 (current: 1.2.0).',
  {
    template: 'quickstart',
    version: '1.0.0',
    available: ['1.2.0'],
    current: '1.2.0'
  }
);

describe('the request of "Run again"', () => {
  it('is the stored request: recipe and version, inputs, prompt, topic, complexity, repository, provider', () => {
    expect(runAgainRequest(past())).toEqual({
      repo_id: REPO,
      prompt: 'Summarise German news',
      template: 'quickstart',
      template_version: '1.0.0',
      inputs: { samples: 5 },
      topic: 'news',
      complexity: 'intermediate',
      hf_model_id: 'org/model',
      provider: 'offline'
    });
  });

  it('leaves the approval mode, secrets, trust and kernel to the user now', () => {
    const request = runAgainRequest(past()) as Record<string, unknown>;
    for (const key of [
      'approval',
      'secrets',
      'keep_secrets',
      'trust',
      'kernel_id',
      'verify'
    ]) {
      expect(request).not.toHaveProperty(key);
    }
  });

  it('runs with the provider and model the server chose when the request named none', () => {
    const g = past({ provider: 'anthropic', model: 'claude-x' });
    expect(runAgainRequest(g)).toMatchObject({
      provider: 'anthropic',
      model: 'claude-x'
    });
  });

  it('keeps the model the request named', () => {
    const g = past({ provider: 'openai', model: 'gpt-default' });
    g.request = { ...g.request, provider: 'openai', model: 'gpt-small' } as any;
    expect(runAgainRequest(g)).toMatchObject({
      provider: 'openai',
      model: 'gpt-small'
    });
  });

  it('runs with another version when asked', () => {
    expect(
      runAgainRequest(past(), { templateVersion: '1.2.0' })?.template_version
    ).toBe('1.2.0');
  });

  it('takes the version the generation records when the request has none', () => {
    const g = past();
    delete (g.request as any).template_version;
    expect(runAgainRequest(g)?.template_version).toBe('1.0.0');
  });

  it('runs with the current version when nothing recorded one', () => {
    const g = past({ recipe: null });
    delete (g.request as any).template_version;
    expect(runAgainRequest(g)).not.toHaveProperty('template_version');
  });

  it('is not known without the prompt', () => {
    expect(runAgainRequest(past({ request: {} }))).toBeNull();
  });

  it('is offered for a generation that ended and is not a follow-up', () => {
    expect(canRunAgain(past())).toBe(true);
    expect(canRunAgain(past({ status: 'failed' }))).toBe(true);
    expect(canRunAgain(past({ status: 'running' }))).toBe(false);
    expect(canRunAgain(past({ parent_id: 'd'.repeat(32) }))).toBe(false);
  });
});

describe('a recipe version that is gone', () => {
  it('is read from the server’s refusal', () => {
    expect(versionUnavailable(GONE)).toEqual({
      template: 'quickstart',
      version: '1.0.0',
      current: '1.2.0',
      available: ['1.2.0']
    });
  });

  it('offers the newest version there is when the server names no current one', () => {
    const error = new CookbookAPIError(409, 'recipe_version_unavailable', 'x', {
      template: 'quickstart',
      version: '1.0.0',
      available: ['2.0.0', '1.5.0']
    });
    expect(versionUnavailable(error)?.current).toBe('2.0.0');
  });

  it('is not any other refusal', () => {
    expect(
      versionUnavailable(new CookbookAPIError(409, 'conflict', 'busy'))
    ).toBeNull();
    expect(versionUnavailable(new Error('recipe_version_unavailable'))).toBe(
      null
    );
  });
});

class FakeHandle implements INotebookHandle {
  constructor(readonly path: string) {}
  readonly shared = YNotebook.create() as unknown as INotebookLike;
  readonly cellsChanged: Signal<INotebookHandle, void> = new Signal(this);
  kernel = `kernel-of-${this.path}`;
  activeCellId() {
    return null;
  }
  async ensureKernel() {
    return this.kernel;
  }
  kernelId() {
    return this.kernel;
  }
  async runInKernel() {
    return { ok: true, output: '' };
  }
}

class FakeHost implements INotebookHost {
  readonly open = new Map<string, FakeHandle>();
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
  add(path: string) {
    this.open.set(path, new FakeHandle(path));
  }
}

/** The model, a server that knows one past generation, and two open notebooks. */
function setup(refuse: (request: any) => Error | null = () => null) {
  const started: any[] = [];
  const fetched: string[] = [];
  const api = {
    getGeneration: async (id: string) => {
      fetched.push(id);
      return id === PAST ? past() : { id, status: 'finished' };
    },
    startGeneration: async (request: any) => {
      const refusal = refuse(request);
      if (refusal) {
        throw refusal;
      }
      started.push(request);
      return { id: NEW };
    },
    events: async () => ({ events: [], done: true })
  };
  const host = new FakeHost();
  host.add('old.ipynb');
  host.add('now.ipynb');
  host.currentPath = 'now.ipynb';
  const model = new CookbookModel({ api: api as any, notebooks: host });
  return { model, started, fetched };
}

describe('CookbookModel.runAgain', () => {
  let models: CookbookModel[] = [];
  afterEach(() => {
    models.forEach(m => m.dispose());
    models = [];
  });
  function track<T extends { model: CookbookModel }>(x: T): T {
    models.push(x.model);
    return x;
  }

  it('starts the stored request again into the current notebook', async () => {
    const { model, started, fetched } = track(setup());
    const gen = await model.runAgain(PAST);
    expect(fetched[0]).toBe(PAST);
    expect(gen.id).toBe(NEW);
    expect(gen.path).toBe('now.ipynb');
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      repo_id: REPO,
      prompt: 'Summarise German news',
      template: 'quickstart',
      template_version: '1.0.0',
      inputs: { samples: 5 },
      kernel_id: 'kernel-of-now.ipynb',
      // The earlier consent is not reused.
      secrets: []
    });
    expect(started[0]).not.toHaveProperty('parent_id');
  });

  it('starts into the notebook it is given, with the secrets the user allows now', async () => {
    const { model, started } = track(setup());
    const gen = await model.runAgain(PAST, {
      target: 'old.ipynb',
      secrets: ['OTHER']
    });
    expect(gen.path).toBe('old.ipynb');
    expect(started[0]).toMatchObject({
      kernel_id: 'kernel-of-old.ipynb',
      secrets: ['OTHER']
    });
  });

  it('rejects with the versions there are when the recipe version is gone', async () => {
    const { model, started } = track(
      setup(request => (request.template_version === '1.0.0' ? GONE : null))
    );
    const error = await model.runAgain(PAST).catch(e => e);
    expect(versionUnavailable(error)?.current).toBe('1.2.0');
    expect(started).toHaveLength(0);
    expect(model.generations).toHaveLength(0);
  });

  it('runs with the version the user chose instead', async () => {
    const { model, started } = track(
      setup(request => (request.template_version === '1.0.0' ? GONE : null))
    );
    await model.runAgain(PAST, { templateVersion: '1.2.0' });
    expect(started[0].template_version).toBe('1.2.0');
    expect(started[0].prompt).toBe('Summarise German news');
  });
});
