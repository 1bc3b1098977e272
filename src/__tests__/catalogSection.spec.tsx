/**
 * The catalogue section and the history's "Run again", rendered: what the
 * user sees and can press, with a model that answers as the server would.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  CookbookAPIError,
  ICatalogState,
  IGeneration,
  IPackChange,
  IPackInfo
} from '../api';
import { CatalogSection } from '../panel/CatalogSection';
import { HistorySection } from '../panel/HistorySection';
import type { ICookbook } from '../tokens';

// react-dom ships no types here; only createRoot is used.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createRoot } = require('react-dom/client') as {
  createRoot(container: Element): {
    render(node: React.ReactNode): void;
    unmount(): void;
  };
};

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
const trans = nullTranslator.load('cookbook_ext');
const INDEX = 'http://127.0.0.1:8123/index.json';
const DOWN = 'http://127.0.0.1:9/index.json';

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

/** The part of ICookbook the two sections use, over a scripted catalogue. */
class FakeModel {
  catalog: ICatalogState | null = null;
  readonly catalogChanged = new Signal<any, ICatalogState | null>(this);
  reads = 0;
  installed: string[] = [];
  constructor(
    private _answer: ICatalogState,
    private _install: (id: string) => IPackChange | Error = id => ({
      ...pack(id),
      state: 'installed',
      installed_version: '1.0.0',
      changed: true
    })
  ) {}
  async refreshCatalog(): Promise<ICatalogState> {
    this.reads++;
    this.catalog = this._answer;
    this.catalogChanged.emit(this.catalog);
    return this.catalog;
  }
  async installPack(id: string): Promise<IPackChange> {
    const answer = this._install(id);
    if (answer instanceof Error) {
      throw answer;
    }
    this.installed.push(id);
    this.catalog = {
      ...this.catalog!,
      packs: this.catalog!.packs.map(p => (p.id === id ? answer : p))
    };
    this.catalogChanged.emit(this.catalog);
    return answer;
  }
  removed: string[] = [];
  async removePack(id: string): Promise<void> {
    this.removed.push(id);
  }
  history: () => Promise<IGeneration[]> = async () => [];
}

let container: HTMLDivElement;
let root: ReturnType<typeof createRoot>;

beforeEach(() => {
  // The section remembers being open; every test opens it itself.
  window.localStorage.clear();
  // The panel re-renders on a signal at the next frame: at once here.
  jest.spyOn(window, 'requestAnimationFrame').mockImplementation(frame => {
    frame(0);
    return 0;
  });
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  React.act(() => root.unmount());
  container.remove();
  jest.restoreAllMocks();
});

/** Let every pending promise settle (the fake model answers without timers), then render. */
async function flush(): Promise<void> {
  await React.act(async () => {
    await new Promise(resolve => setTimeout(resolve, 0));
  });
}

function buttons(): HTMLButtonElement[] {
  return Array.from(container.querySelectorAll('button'));
}

function button(name: string): HTMLButtonElement {
  const found = buttons().find(
    b => (b.getAttribute('aria-label') ?? b.textContent?.trim()) === name
  );
  if (!found) {
    throw new Error(
      `no button "${name}" in ${buttons()
        .map(b => b.getAttribute('aria-label') ?? b.textContent)
        .join(' | ')}`
    );
  }
  return found;
}

async function click(name: string): Promise<void> {
  await React.act(async () => {
    button(name).click();
  });
  await flush();
}

async function renderCatalog(model: FakeModel): Promise<void> {
  await React.act(async () => {
    root.render(
      <CatalogSection model={model as unknown as ICookbook} trans={trans} />
    );
  });
  await click('Recipe catalogue');
}

describe('the catalogue section', () => {
  it('reads the catalogue when opened, not with the panel, and again at each opening', async () => {
    const model = new FakeModel({ catalogs: [], packs: [] });
    await React.act(async () => {
      root.render(
        <CatalogSection model={model as unknown as ICookbook} trans={trans} />
      );
    });
    expect(model.reads).toBe(0);
    await click('Recipe catalogue');
    expect(model.reads).toBe(1);
    await click('Recipe catalogue');
    expect(model.reads).toBe(1);
    await click('Recipe catalogue');
    expect(model.reads).toBe(2);
  });

  it('lists each pack with its state, versions, description and recipes, and buttons named after it', async () => {
    const model = new FakeModel({
      catalogs: [{ url: INDEX, ok: true, error: null, packs: 3 }],
      packs: [
        pack('alpha'),
        pack('beta', {
          state: 'update',
          installed_version: '1.0.0',
          available_version: '1.2.0'
        }),
        pack('gamma', { state: 'installed', installed_version: '2.0.0' })
      ]
    });
    await renderCatalog(model);
    const items = Array.from(container.querySelectorAll('.jp-Cookbook-pack'));
    expect(items.map(i => i.getAttribute('data-state'))).toEqual([
      'available',
      'update',
      'installed'
    ]);
    expect(items[0].textContent).toContain('Available: 1.0.0');
    expect(items[0].textContent).toContain('The alpha recipes.');
    expect(items[0].textContent).toContain('Recipe: alpha_recipe');
    expect(items[1].textContent).toContain('Update available: 1.0.0 → 1.2.0');
    expect(items[2].textContent).toContain('Installed 2.0.0');
    const names = buttons().map(b => b.getAttribute('aria-label'));
    expect(names).toEqual(
      expect.arrayContaining([
        'Install pack alpha',
        'Update pack beta to 1.2.0',
        'Remove pack beta',
        'Remove pack gamma',
        'Refresh the recipe catalogue'
      ])
    );
    const named = names.filter(Boolean);
    expect(new Set(named).size).toBe(named.length);
  });

  it('installs a pack and says where its recipes are', async () => {
    const model = new FakeModel({
      catalogs: [{ url: INDEX, ok: true, error: null, packs: 1 }],
      packs: [pack('alpha')]
    });
    await renderCatalog(model);
    await click('Install pack alpha');
    expect(model.installed).toEqual(['alpha']);
    const item = container.querySelector('[data-pack-id="alpha"]')!;
    expect(item.getAttribute('data-state')).toBe('installed');
    expect(container.querySelector('[role="status"]')?.textContent).toBe(
      'Installed alpha: its recipes are in the Template list.'
    );
    expect(button('Remove pack alpha')).toBeTruthy();
  });

  it('shows the server’s refusal in the section', async () => {
    const model = new FakeModel(
      {
        catalogs: [{ url: INDEX, ok: true, error: null, packs: 1 }],
        packs: [pack('alpha')]
      },
      () =>
        new CookbookAPIError(
          502,
          'checksum_mismatch',
          'The pack alpha 1.0.0 does not match the catalogue’s checksum; nothing was installed.'
        )
    );
    await renderCatalog(model);
    await click('Install pack alpha');
    expect(container.querySelector('[role="alert"]')?.textContent).toBe(
      'The pack alpha 1.0.0 does not match the catalogue’s checksum; nothing was installed.'
    );
    expect(
      container
        .querySelector('[data-pack-id="alpha"]')
        ?.getAttribute('data-state')
    ).toBe('available');
    expect(button('Install pack alpha').disabled).toBe(false);
  });

  it('shows each catalogue that could not be read, and the installed packs still', async () => {
    const model = new FakeModel({
      catalogs: [
        {
          url: DOWN,
          ok: false,
          error: `The catalogue index at ${DOWN} cannot be reached (ConnectError).`,
          code: 'catalog_unreachable',
          packs: 0
        }
      ],
      packs: [
        pack('alpha', {
          state: 'installed',
          installed_version: '1.0.0',
          available_version: null,
          listed: false
        })
      ]
    });
    await renderCatalog(model);
    const problem = container.querySelector(
      `.jp-Cookbook-catalogProblems [data-catalog-url="${DOWN}"]`
    );
    expect(problem?.textContent).toBe(
      `Could not read the catalogue ${DOWN}: The catalogue index at ${DOWN} cannot be reached (ConnectError). Installed recipes keep working.`
    );
    expect(
      container.querySelector('[data-pack-id="alpha"]')?.textContent
    ).toContain('Installed 1.0.0 (no catalogue lists it now)');
  });

  it('says how to configure a catalogue when there is none', async () => {
    await renderCatalog(new FakeModel({ catalogs: [], packs: [] }));
    expect(
      container.querySelector('.jp-Cookbook-catalogNone')?.textContent
    ).toContain('c.RecipeRegistry.catalog_urls');
    expect(container.querySelector('.jp-Cookbook-packList')).toBeNull();
  });

  it('asks before removing a pack no catalogue lists any more, and keeps it when told no', async () => {
    const model = new FakeModel({
      catalogs: [],
      packs: [
        pack('kept', {
          state: 'installed',
          installed_version: '1.0.0',
          listed: false
        }),
        pack('listed', { state: 'installed', installed_version: '1.0.0' })
      ]
    });
    const asked: string[] = [];
    await React.act(async () => {
      root.render(
        <CatalogSection
          model={model as unknown as ICookbook}
          trans={trans}
          confirmRemove={async p => {
            asked.push(p.id);
            return false;
          }}
        />
      );
    });
    await click('Recipe catalogue');
    await click('Remove pack kept');
    expect(asked).toEqual(['kept']);
    expect(model.removed).toEqual([]);
    // One a catalogue lists can be installed again: no question.
    await click('Remove pack listed');
    expect(asked).toEqual(['kept']);
    expect(model.removed).toEqual(['listed']);
  });

  it('reads the catalogue again on Refresh', async () => {
    const model = new FakeModel({ catalogs: [], packs: [] });
    await renderCatalog(model);
    await click('Refresh the recipe catalogue');
    expect(model.reads).toBe(2);
  });
});

describe('the history’s Run again', () => {
  const finished: IGeneration = {
    id: 'b'.repeat(32),
    status: 'finished',
    created_at: 1_700_000_000,
    request: { prompt: 'Summarise news', template: 'quickstart' },
    template: 'quickstart',
    cells_count: 2
  };

  async function renderHistory(
    onRunAgain: ((id: string, version?: string) => Promise<void>) | null,
    items: IGeneration[] = [finished]
  ): Promise<void> {
    const model = new FakeModel({ catalogs: [], packs: [] });
    model.history = async () => items;
    await React.act(async () => {
      root.render(
        <HistorySection
          model={model as unknown as ICookbook}
          trans={trans}
          refreshKey=""
          selectedId={null}
          onOpen={() => undefined}
          onDownload={() => undefined}
          onInsert={null}
          onRunAgain={onRunAgain}
        />
      );
    });
    await flush();
  }

  function runAgainButton(): HTMLButtonElement {
    const found = buttons().find(b =>
      b.getAttribute('aria-label')?.startsWith('Run again: “Summarise news”')
    );
    if (!found) {
      throw new Error('no Run again button');
    }
    return found;
  }

  it('starts the entry again', async () => {
    const calls: Array<[string, string | undefined]> = [];
    await renderHistory(async (id, version) => {
      calls.push([id, version]);
    });
    await React.act(async () => runAgainButton().click());
    await flush();
    expect(calls).toEqual([[finished.id, undefined]]);
    expect(container.querySelector('[role="alert"]')).toBeNull();
  });

  it('says the version is gone in words, and runs with the current one when asked', async () => {
    const calls: Array<string | undefined> = [];
    await renderHistory(async (_, version) => {
      calls.push(version);
      if (!version) {
        throw new CookbookAPIError(409, 'recipe_version_unavailable', 'gone', {
          template: 'quickstart',
          version: '1.0.0',
          available: ['1.2.0'],
          current: '1.2.0'
        });
      }
    });
    await React.act(async () => runAgainButton().click());
    await flush();
    const gone = container.querySelector('.jp-Cookbook-versionGone');
    expect(gone?.textContent).toContain(
      'Version 1.0.0 of recipe quickstart is no longer available; run with 1.2.0?'
    );
    const runWith = buttons().find(b => b.textContent === 'Run with 1.2.0')!;
    expect(runWith.getAttribute('aria-label')).toMatch(
      /^Run “Summarise news” \(.+\) again with version 1\.2\.0 of quickstart$/
    );
    await React.act(async () => runWith.click());
    await flush();
    expect(calls).toEqual([undefined, '1.2.0']);
    expect(container.querySelector('.jp-Cookbook-versionGone')).toBeNull();
  });

  it('shows any other refusal on the entry', async () => {
    await renderHistory(async () => {
      throw new CookbookAPIError(
        404,
        'not_found',
        'No repository with id r; ingest it again.'
      );
    });
    await React.act(async () => runAgainButton().click());
    await flush();
    expect(container.querySelector('[role="alert"]')?.textContent).toBe(
      'No repository with id r; ingest it again.'
    );
  });

  it('is not offered for a follow-up, and waits for an open notebook', async () => {
    await renderHistory(null, [
      finished,
      {
        ...finished,
        id: 'c'.repeat(32),
        parent_id: finished.id,
        request: { prompt: 'Now plot it', template: 'quickstart' }
      }
    ]);
    const names = buttons().map(b => b.getAttribute('aria-label') ?? '');
    expect(names.filter(n => n.startsWith('Run again'))).toHaveLength(1);
    expect(runAgainButton().disabled).toBe(true);
  });
});
