import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import {
  CookbookAPI,
  CookbookAPIError,
  ICatalogState,
  IPackChange,
  IPackInfo
} from '../api';
import {
  noCatalogConfigured,
  packActionLabels,
  packActions,
  packStateText,
  unreadableCatalogs,
  withoutPack,
  withPack
} from '../catalog';
import { CookbookModel } from '../model';
import type { INotebookHost } from '../notebookHost';

const trans = nullTranslator.load('cookbook_ext');
const INDEX = 'http://127.0.0.1:8123/index.json';

function pack(id: string, extra: Partial<IPackInfo> = {}): IPackInfo {
  return {
    id,
    description: `The ${id} recipes.`,
    recipes: [`${id}_recipe`],
    state: 'available',
    installed_version: null,
    available_version: '1.0.0',
    catalog: INDEX,
    listed: true,
    ...extra
  };
}

function state(...packs: IPackInfo[]): ICatalogState {
  return {
    catalogs: [{ url: INDEX, ok: true, error: null, packs: packs.length }],
    packs
  };
}

interface ICall {
  url: string;
  method: string;
  body: any;
}

/** A fetch stand-in that records requests and answers from a queue. */
function fakeServer(...responses: Response[]) {
  const calls: ICall[] = [];
  const fetchImpl = async (input: RequestInfo, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = await request.text();
    calls.push({
      url: request.url.replace(/[?&]\d{13}$/, ''),
      method: request.method,
      body: text ? JSON.parse(text) : undefined
    });
    const next = responses.shift();
    if (!next) {
      throw new Error('no response queued');
    }
    return next;
  };
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/',
    fetch: fetchImpl as any
  });
  return { calls, api: new CookbookAPI({ serverSettings }) };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('the catalogue API', () => {
  it('lists the catalogues and their packs', async () => {
    const body = {
      catalogs: [
        { url: INDEX, ok: true, error: null, packs: 1 },
        {
          url: 'http://127.0.0.1:9/index.json',
          ok: false,
          error:
            'The catalogue index at http://127.0.0.1:9/index.json cannot be reached (ConnectError).',
          code: 'catalog_unreachable',
          packs: 0
        }
      ],
      packs: [pack('demo')]
    };
    const { api, calls } = fakeServer(json(body));
    await expect(api.listCatalog()).resolves.toEqual(body);
    expect(calls[0]).toMatchObject({
      method: 'GET',
      url: 'http://localhost:8888/cookbook/catalog'
    });
  });

  it('reads a missing list as empty', async () => {
    const { api } = fakeServer(json({}));
    await expect(api.listCatalog()).resolves.toEqual({
      catalogs: [],
      packs: []
    });
  });

  it('installs, updates and removes a pack at its own url', async () => {
    const change = { ...pack('my.pack'), state: 'installed', changed: true };
    const { api, calls } = fakeServer(
      json(change, 201),
      json(change),
      new Response(null, { status: 204 })
    );
    await expect(api.installPack('my.pack')).resolves.toEqual(change);
    await expect(api.updatePack('my.pack')).resolves.toEqual(change);
    await expect(api.removePack('my.pack')).resolves.toBeUndefined();
    expect(calls.map(c => [c.method, c.url])).toEqual([
      ['POST', 'http://localhost:8888/cookbook/catalog/my.pack/install'],
      ['POST', 'http://localhost:8888/cookbook/catalog/my.pack/update'],
      ['DELETE', 'http://localhost:8888/cookbook/catalog/my.pack']
    ]);
  });

  it('rejects with the server’s code and message', async () => {
    const { api } = fakeServer(
      json(
        {
          code: 'checksum_mismatch',
          message:
            'The pack demo 1.0.0 does not match the catalogue’s checksum; nothing was installed.'
        },
        502
      )
    );
    const error = await api.installPack('demo').catch(e => e);
    expect(error).toBeInstanceOf(CookbookAPIError);
    expect(error.code).toBe('checksum_mismatch');
    expect(error.message).toContain('nothing was installed');
  });

  it('keeps the details of an error body', async () => {
    const details = {
      template: 'quickstart',
      version: '1.0.0',
      available: ['1.2.0'],
      current: '1.2.0'
    };
    const { api } = fakeServer(
      json(
        { code: 'recipe_version_unavailable', message: 'gone', details },
        409
      )
    );
    const error = await api
      .startGeneration({ prompt: 'p', template: 'quickstart' } as any)
      .catch(e => e);
    expect(error.details).toEqual(details);
  });
});

describe('the catalogue as the panel shows it', () => {
  it('offers install for an available pack, update and remove for an outdated one, remove for an installed one', () => {
    expect(packActions(pack('a'))).toEqual(['install']);
    expect(
      packActions(pack('a', { state: 'update', installed_version: '0.9.0' }))
    ).toEqual(['update', 'remove']);
    expect(
      packActions(pack('a', { state: 'installed', installed_version: '1.0.0' }))
    ).toEqual(['remove']);
  });

  it('names every button after its pack', () => {
    const names = [pack('alpha'), pack('beta')].flatMap(p =>
      packActions(p).map(a => packActionLabels(trans, a, p).name)
    );
    expect(names).toEqual(['Install pack alpha', 'Install pack beta']);
    const outdated = pack('alpha', {
      state: 'update',
      installed_version: '1.0.0',
      available_version: '1.2.0'
    });
    expect(
      packActions(outdated).map(a => packActionLabels(trans, a, outdated))
    ).toEqual([
      { text: 'Update', name: 'Update pack alpha to 1.2.0' },
      { text: 'Remove', name: 'Remove pack alpha' }
    ]);
  });

  it('says the versions installed and available', () => {
    expect(packStateText(trans, pack('a'))).toBe('Available: 1.0.0');
    expect(
      packStateText(
        trans,
        pack('a', {
          state: 'update',
          installed_version: '1.0.0',
          available_version: '1.2.0'
        })
      )
    ).toBe('Update available: 1.0.0 → 1.2.0');
    expect(
      packStateText(
        trans,
        pack('a', { state: 'installed', installed_version: '1.2.0' })
      )
    ).toBe('Installed 1.2.0');
    expect(
      packStateText(
        trans,
        pack('a', {
          state: 'installed',
          installed_version: '1.2.0',
          available_version: null,
          listed: false
        })
      )
    ).toBe('Installed 1.2.0 (no catalogue lists it now)');
  });

  it('tells a catalogue that could not be read from one that could', () => {
    const s: ICatalogState = {
      catalogs: [
        { url: INDEX, ok: true, error: null, packs: 0 },
        { url: 'http://down/', ok: false, error: 'down', packs: 0 }
      ],
      packs: []
    };
    expect(unreadableCatalogs(s).map(c => c.url)).toEqual(['http://down/']);
    expect(noCatalogConfigured(s)).toBe(false);
  });

  it('knows when no catalogue is configured', () => {
    expect(noCatalogConfigured({ catalogs: [], packs: [] })).toBe(true);
    // Installed packs stay listed (and removable) after the catalogue is unset.
    expect(
      noCatalogConfigured({
        catalogs: [],
        packs: [pack('a', { state: 'installed', listed: false })]
      })
    ).toBe(false);
  });

  it('puts an installed pack in place of the available one', () => {
    const change: IPackChange = {
      ...pack('a'),
      state: 'installed',
      installed_version: '1.0.0',
      changed: true
    };
    const next = withPack(state(pack('a'), pack('b')), change);
    expect(next.packs.map(p => [p.id, p.state])).toEqual([
      ['a', 'installed'],
      ['b', 'available']
    ]);
    expect(next.packs[0]).not.toHaveProperty('changed');
  });

  it('makes a removed pack available again while a catalogue lists it, and drops it otherwise', () => {
    const s = state(
      pack('listed', { state: 'installed', installed_version: '1.0.0' }),
      pack('gone', {
        state: 'installed',
        installed_version: '1.0.0',
        listed: false
      })
    );
    const a = withoutPack(s, 'listed');
    expect(a.packs[0]).toMatchObject({
      id: 'listed',
      state: 'available',
      installed_version: null
    });
    expect(withoutPack(s, 'gone').packs.map(p => p.id)).toEqual(['listed']);
  });
});

/** No notebook is open: the catalogue needs none. */
class NoNotebooks implements INotebookHost {
  readonly opened: Signal<INotebookHost, string> = new Signal(this);
  readonly closed: Signal<INotebookHost, string> = new Signal(this);
  readonly renamed: Signal<
    INotebookHost,
    { oldPath: string; newPath: string }
  > = new Signal(this);
  readonly currentChanged: Signal<INotebookHost, void> = new Signal(this);
  find() {
    return null;
  }
  current() {
    return null;
  }
}

/** The model over a scripted REST client: what it was asked, in order. */
function modelWith(api: Record<string, unknown>) {
  const calls: string[] = [];
  const traced = Object.fromEntries(
    Object.entries(api).map(([name, fn]) => [
      name,
      async (...args: unknown[]) => {
        calls.push(name);
        return (fn as (...a: unknown[]) => unknown)(...args);
      }
    ])
  );
  const model = new CookbookModel({
    api: traced as any,
    notebooks: new NoNotebooks()
  });
  return { model, calls };
}

describe('the model’s catalogue', () => {
  const installed: IPackChange = {
    ...pack('demo'),
    state: 'installed',
    installed_version: '1.0.0',
    changed: true
  };

  it('announces the catalogue it read', async () => {
    const { model } = modelWith({ listCatalog: () => state(pack('demo')) });
    const seen: Array<ICatalogState | null> = [];
    model.catalogChanged.connect((_, c) => seen.push(c));
    await model.refreshCatalog();
    expect(model.catalog?.packs.map(p => p.id)).toEqual(['demo']);
    expect(seen).toHaveLength(1);
  });

  it('has the new recipes once an install resolves', async () => {
    let recipes = [{ id: 'quickstart', title: 'Quickstart' }];
    const { model, calls } = modelWith({
      listCatalog: () => state(pack('demo')),
      installPack: () => {
        recipes = [...recipes, { id: 'demo_recipe', title: 'Demo' }];
        return installed;
      },
      listRecipes: () => ({ recipes, errors: [] })
    });
    await model.refreshCatalog();
    await model.installPack('demo');
    expect(model.recipes?.map(r => r.id)).toEqual([
      'quickstart',
      'demo_recipe'
    ]);
    expect(model.catalog?.packs[0].state).toBe('installed');
    // The catalogue is not read again: the answer says the pack's state.
    expect(calls).toEqual(['listCatalog', 'installPack', 'listRecipes']);
  });

  it('takes the recipes away once a remove resolves', async () => {
    let recipes = [
      { id: 'quickstart', title: 'Quickstart' },
      { id: 'demo_recipe', title: 'Demo' }
    ];
    const { model } = modelWith({
      listCatalog: () => state(installed),
      removePack: () => {
        recipes = recipes.slice(0, 1);
      },
      listRecipes: () => ({ recipes, errors: [] })
    });
    await model.refreshCatalog();
    await model.removePack('demo');
    expect(model.recipes?.map(r => r.id)).toEqual(['quickstart']);
    expect(model.catalog?.packs[0]).toMatchObject({
      state: 'available',
      installed_version: null
    });
  });

  it('rejects with the server’s refusal and changes nothing', async () => {
    const refusal = new CookbookAPIError(
      502,
      'unsafe_pack',
      'The pack demo was refused: the path "../x.yaml" leaves the pack’s folder; nothing was installed.'
    );
    const { model, calls } = modelWith({
      listCatalog: () => state(pack('demo')),
      installPack: () => {
        throw refusal;
      },
      listRecipes: () => ({ recipes: [], errors: [] })
    });
    await model.refreshCatalog();
    await expect(model.installPack('demo')).rejects.toBe(refusal);
    expect(model.catalog?.packs[0].state).toBe('available');
    expect(calls).not.toContain('listRecipes');
  });

  it('reads the catalogue again when the pack was installed elsewhere', async () => {
    let reads = 0;
    const { model } = modelWith({
      listCatalog: () => {
        reads++;
        return reads === 1
          ? state(pack('demo'))
          : state(
              pack('demo', { state: 'installed', installed_version: '1.0.0' })
            );
      },
      installPack: () => {
        throw new CookbookAPIError(
          409,
          'pack_installed',
          'The pack demo is installed already; update it instead.'
        );
      }
    });
    await model.refreshCatalog();
    const changed = new Promise(resolve =>
      model.catalogChanged.connect((_, c) => resolve(c))
    );
    await expect(model.installPack('demo')).rejects.toThrow(
      'installed already'
    );
    await changed;
    expect(model.catalog?.packs[0].state).toBe('installed');
  });

  it('shows a pack removed elsewhere as removed, and says so', async () => {
    const { model } = modelWith({
      listCatalog: () => state(installed),
      removePack: () => {
        throw new CookbookAPIError(
          404,
          'pack_not_installed',
          'The pack demo is not installed.'
        );
      },
      listRecipes: () => ({ recipes: [], errors: [] })
    });
    await model.refreshCatalog();
    await expect(model.removePack('demo')).rejects.toThrow('not installed');
    expect(model.catalog?.packs[0].state).toBe('available');
  });
});
