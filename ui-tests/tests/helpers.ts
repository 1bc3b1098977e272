/**
 * Helpers shared by the Cookbook end-to-end tests.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

export const PANEL = '#jp-cookbook-panel';
/** Created by jupyter_server_test_config.py in the server's root. */
export const FIXTURE_REPO = 'fixtures/tiny-sentiment';

/** Open the Cookbook sidebar and wait for the panel to render. */
export async function openCookbook(
  page: IJupyterLabPageFixture
): Promise<Locator> {
  const tab = page.locator(
    '.jp-SideBar.jp-mod-left [data-id="jp-cookbook-panel"]'
  );
  const panel = page.locator(PANEL);
  if (!(await panel.isVisible())) {
    await tab.click();
  }
  await expect(panel.locator('.jp-Cookbook-body')).toBeVisible();
  return panel;
}

export async function ingest(
  panel: Locator,
  source = FIXTURE_REPO
): Promise<void> {
  await panel
    .getByLabel('GitHub URL or folder under the Jupyter root')
    .fill(source);
  await panel.getByRole('button', { name: 'Ingest', exact: true }).click();
}

export async function ingestFixture(panel: Locator): Promise<void> {
  await ingest(panel);
  await expect(panel.locator('.jp-Cookbook-repoName')).toHaveText(
    'tiny-sentiment'
  );
}

/** Fill the recipe and press Generate; resolves with the generation id. */
export async function generate(
  panel: Locator,
  prompt: string
): Promise<string> {
  await panel.getByLabel('What should the notebook do?').fill(prompt);
  const button = panel.getByRole('button', {
    name: 'Generate into the notebook'
  });
  await expect(button).toBeEnabled();
  const progress = panel.locator('.jp-Cookbook-progress');
  // The panel may show an earlier run: the new one's id is a new id.
  const before = (await progress.count())
    ? await progress.getAttribute('data-generation-id')
    : null;
  await button.click();
  await expect(progress).toBeVisible();
  if (before) {
    await expect(progress).not.toHaveAttribute('data-generation-id', before);
  }
  const id = await progress.getAttribute('data-generation-id');
  expect(id).toBeTruthy();
  return id!;
}

/**
 * The cells of the notebook at `path`, from its shared model (what
 * collaborators see), as the Cookbook service (`ICookbook.notebooks`) sees it.
 */
export async function notebookCells(
  page: IJupyterLabPageFixture,
  path: string
): Promise<any[]> {
  return page.evaluate(async p => {
    // The service the `cookbook-ext:core` plugin provides for ICookbook.
    const cookbook = await (window as any).galata.getPlugin(
      'cookbook-ext:core'
    );
    const handle = cookbook.notebooks.find(p);
    return handle ? handle.shared.cells.map((c: any) => c.toJSON()) : [];
  }, path);
}

/** The id of the kernel running for the notebook at `path`, if any. */
export async function notebookKernelId(
  page: IJupyterLabPageFixture,
  path: string
): Promise<string | null> {
  return page.evaluate(async p => {
    const cookbook = await (window as any).galata.getPlugin(
      'cookbook-ext:core'
    );
    return cookbook.notebooks.find(p)?.kernelId() ?? null;
  }, path);
}

export function cookbookCells(cells: any[], generationId?: string): any[] {
  return cells.filter(
    c =>
      c.metadata?.cookbook &&
      (!generationId || c.metadata.cookbook.generation_id === generationId)
  );
}

/** Path of the notebook Galata created in this test's folder. */
export function inTmp(tmpPath: string, name: string): string {
  return `${tmpPath}/${name}`;
}

/** Wait for a status, approving every cell the generation asks about meanwhile. */
export async function waitApproving(
  panel: Locator,
  status: string,
  timeout = 90_000,
  answer: 'Run it' | 'Skip it' = 'Run it'
): Promise<number> {
  const progress = panel.locator('.jp-Cookbook-progress');
  const reached = panel.locator(
    status
      .split('|')
      .map(s => `.jp-Cookbook-progress[data-status="${s}"]`)
      .join(', ')
  );
  const run = panel
    .locator('.jp-Cookbook-approval')
    .getByRole('button', { name: answer })
    .first();
  const deadline = Date.now() + timeout;
  let approved = 0;
  for (;;) {
    // Whichever comes first: the status, or a question to answer.
    await expect(reached.or(run).first()).toBeVisible({
      timeout: Math.max(1, deadline - Date.now())
    });
    if (status.split('|').includes((await progress.getAttribute('data-status')) ?? '')) {
      return approved;
    }
    const button = await run.elementHandle({ timeout: 1_000 }).catch(() => null);
    if (button && (await button.isVisible())) {
      await button.click();
      approved++;
      // This card (keyed by its approval) goes once the answer is taken: never
      // answer the same question twice.
      await button.waitForElementState('hidden', {
        timeout: Math.max(1, deadline - Date.now())
      });
      await button.dispose();
    }
  }
}

export async function waitForStatus(
  panel: Locator,
  status: string,
  timeout = 90_000
): Promise<void> {
  await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
    'data-status',
    status,
    {
      timeout
    }
  );
}

/** Server-side view of a generation (status, validated cells). */
export async function serverGeneration(
  page: IJupyterLabPageFixture,
  id: string
): Promise<any> {
  const response = await page.request.get(`/cookbook/generations/${id}`);
  expect(response.ok()).toBeTruthy();
  return response.json();
}

/**
 * The generation's validated cells in notebook order, replayed from its
 * events the way the contract defines `index` (validated cells before it).
 */
export async function validatedOrder(
  page: IJupyterLabPageFixture,
  id: string
): Promise<string[]> {
  const response = await page.request.get(
    `/cookbook/generations/${id}/events?after=0&timeout=0`
  );
  expect(response.ok()).toBeTruthy();
  const { events } = await response.json();
  const order: string[] = [];
  for (const e of events) {
    if (e.type === 'cell_validated' || e.type === 'cell_invalidated') {
      const at = order.indexOf(e.data.cell_id);
      if (at >= 0) {
        order.splice(at, 1);
      }
      if (e.type === 'cell_validated') {
        order.splice(Math.min(e.data.index, order.length), 0, e.data.cell_id);
      }
    }
  }
  return order;
}

/** Open the panel's Secrets section (it remembers being open) and return it. */
export async function openSecrets(panel: Locator): Promise<Locator> {
  const toggle = panel.locator('#jp-Cookbook-secrets-toggle');
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  const section = panel.locator('.jp-Cookbook-secretsSection');
  await expect(section.locator('.jp-Cookbook-secretForm')).toBeVisible();
  return section;
}

/**
 * The prompt of a scripted generation (ui-tests/cookbook_test_provider.py)
 * that waits at each of `holds` (code cells written) until `openGate` opens
 * it. `gate` is a path under the server root, e.g. in the test's `tmpPath`.
 */
export function scripted(
  options: string,
  gate?: string,
  holds: number[] = []
): string {
  const gating = gate ? ` gate=${gate} hold=${holds.join(',')}` : '';
  return `[scripted ${options}${gating}]`;
}

/**
 * Let a scripted generation go on past its hold after `hold` code cells:
 * create the gate file it waits for, through the contents API.
 */
export async function openGate(
  page: IJupyterLabPageFixture,
  gate: string,
  hold: number
): Promise<void> {
  const path = `${gate}-${hold}`
    .split('/')
    .map(encodeURIComponent)
    .join('/');
  const response = await page.request.put(`/api/contents/${path}`, {
    data: { type: 'file', format: 'text', content: '' }
  });
  expect(response.ok(), `open ${path}: HTTP ${response.status()}`).toBe(true);
}

/** The generation's status on the server. */
export async function serverStatus(
  page: IJupyterLabPageFixture,
  id: string
): Promise<string> {
  return (await serverGeneration(page, id)).status;
}

/**
 * Generations started from now on ask before running `mode` cells, whatever
 * the user's setting: the POST is amended on its way to the server.
 */
export async function forceApproval(
  page: IJupyterLabPageFixture,
  mode: 'always' | 'never' | 'risky'
): Promise<void> {
  await page.route(
    url => new URL(String(url)).pathname.endsWith('/cookbook/generations'),
    async route => {
      const request = route.request();
      if (request.method() !== 'POST') {
        return route.continue();
      }
      const body = { ...request.postDataJSON(), approval: mode };
      return route.continue({ postData: JSON.stringify(body) });
    }
  );
}

/** Drag the left sidebar's edge until the panel is `width` px wide. */
export async function resizeSidebar(
  page: IJupyterLabPageFixture,
  panel: Locator,
  width: number
): Promise<void> {
  const box = (await panel.boundingBox())!;
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width + 2, y);
  await page.mouse.down();
  await page.mouse.move(box.x + width + 2, y, { steps: 5 });
  await page.mouse.up();
  await expect
    .poll(async () => Math.round((await panel.boundingBox())!.width))
    .toBeLessThanOrEqual(width + 4);
}

/** Every element matching `selector` in `scope` is drawn within `outer`'s width and cuts nothing off. */
export async function expectNothingCutOff(
  scope: Locator,
  selector: string,
  outer: Locator
): Promise<void> {
  const b = (await outer.boundingBox())!;
  const items = scope.locator(selector);
  const n = await items.count();
  expect(n).toBeGreaterThan(0);
  for (let i = 0; i < n; i++) {
    const item = items.nth(i);
    if (!(await item.isVisible())) {
      continue;
    }
    const a = (await item.boundingBox())!;
    expect(a.x, `${selector} #${i} starts inside`).toBeGreaterThanOrEqual(
      b.x - 0.5
    );
    expect(
      a.x + a.width,
      `${selector} #${i} ends inside`
    ).toBeLessThanOrEqual(b.x + b.width + 0.5);
    // Its text is not clipped (wrapped, or there is a tooltip for it).
    const clipped = await item.evaluate(
      el =>
        el.scrollWidth > el.clientWidth + 1 &&
        getComputedStyle(el).overflowX !== 'auto' &&
        getComputedStyle(el).overflowX !== 'scroll' &&
        !el.getAttribute('title')
    );
    expect(clipped, `${selector} #${i} shows all its text`).toBe(false);
  }
}

/**
 * Save a screenshot for the report: under $COOKBOOK_SCREENSHOTS when set,
 * and attached to the test's results either way.
 */
export async function keepScreenshot(
  target: { screenshot(options?: { path?: string }): Promise<Buffer> },
  name: string
): Promise<void> {
  const { test } = await import('@jupyterlab/galata');
  const dir = process.env.COOKBOOK_SCREENSHOTS;
  const path = dir ? `${dir}/${name}.png` : test.info().outputPath(`${name}.png`);
  const body = await target.screenshot({ path });
  await test.info().attach(name, { body, contentType: 'image/png' });
}

/** A Cookbook cell's badge in the notebook view. */
export function cellBadges(page: IJupyterLabPageFixture): Locator {
  return page.locator('.jp-NotebookPanel .jp-Cookbook-cellBadge');
}

/**
 * A second (or later) new notebook in the test's folder, opened with the
 * Python kernel: made through the contents API, then opened. (Galata's `createNew` waits for a kernel dialog that JupyterLab
 * skips once kernel specs are loaded, so a second `createNew` in a test can
 * hang.) The notebook has one empty cell, as a new one does.
 */
export async function openNewNotebook(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  name: string
): Promise<string> {
  const path = `${tmpPath}/${name}`;
  const response = await page.request.put(
    `/api/contents/${path.split('/').map(encodeURIComponent).join('/')}`,
    {
      data: {
        type: 'notebook',
        format: 'json',
        content: {
          nbformat: 4,
          nbformat_minor: 5,
          metadata: {
            kernelspec: {
              name: 'python3',
              display_name: 'Python 3 (ipykernel)',
              language: 'python'
            }
          },
          cells: [
            {
              cell_type: 'code',
              id: `${name.replace(/\W/g, '')}-first`,
              source: '',
              metadata: {},
              outputs: [],
              execution_count: null
            }
          ]
        }
      }
    }
  );
  expect(response.ok(), `create ${path}`).toBeTruthy();
  // Opened by JupyterLab's own command: the sidebar may show the Cookbook panel.
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', {
      path: p
    });
  }, path);
  await expect(page.locator('.lm-DockPanel-tabBar .lm-mod-current')).toContainText(
    name
  );
  await expect
    .poll(async () => (await notebookCells(page, path)).length)
    .toBe(1);
  return path;
}
