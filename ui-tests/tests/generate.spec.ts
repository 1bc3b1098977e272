import { expect, test } from '@jupyterlab/galata';
import type { Route } from '@playwright/test';

import {
  cookbookCells,
  generate,
  ingestFixture,
  inTmp,
  notebookCells,
  openCookbook,
  openGate,
  scripted,
  serverGeneration,
  serverStatus,
  validatedOrder,
  waitApproving,
  waitForStatus
} from './helpers';

test.describe.configure({ mode: 'serial' });

test.describe('Generating into a notebook', () => {
  test('the offline provider fills a new notebook with cells and their outputs', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('offline.ipynb');
    const path = inTmp(tmpPath, 'offline.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await expect(panel.locator('.jp-Cookbook-target').first()).toContainText(
      'offline.ipynb'
    );
    const id = await generate(panel, 'Score the sentiment of a few sentences');
    // The install cell is "risky": the panel asks before it runs in the kernel.
    const approval = panel.locator('.jp-Cookbook-approval');
    await expect(approval).toBeVisible({ timeout: 60_000 });
    // It names the cell by what it does, and exactly what will happen.
    await expect(approval.locator('.jp-Cookbook-approvalQuestion')).toHaveText(
      /^Run .+ in your kernel\?$/
    );
    await expect(approval).toContainText('What will happen');
    expect(
      await panel.locator('.jp-Cookbook-progress').screenshot()
    ).toMatchSnapshot('progress-approval.png', { maxDiffPixelRatio: 0.2 });
    await waitApproving(panel, 'finished');
    // Each question's step became its answer (`approval_resolved`); no card is left.
    await expect(panel.locator('.jp-Cookbook-steps')).toContainText(
      'approved to run'
    );
    await expect(approval).toHaveCount(0);

    const server = await serverGeneration(page, id);
    const cells = cookbookCells(await notebookCells(page, path), id);
    // Every validated cell is in the notebook, once, in the generation's order.
    const ids = cells.map(c => c.metadata.cookbook.cell_id);
    expect(ids).toEqual(await validatedOrder(page, id));
    expect([...ids].sort()).toEqual(
      server.cells.map((c: any) => c.metadata.cookbook.cell_id).sort()
    );
    const code = cells.filter(c => c.cell_type === 'code');
    expect(code.length).toBeGreaterThan(0);
    const outputs = code.flatMap(c => c.outputs ?? []);
    expect(JSON.stringify(outputs)).toContain('example 1');
    // And it shows in the notebook view, outputs included.
    await expect(
      page
        .locator('.jp-NotebookPanel .jp-OutputArea-output')
        .filter({ hasText: 'example 1' })
    ).toBeVisible();
    await expect(panel.locator('.jp-Cookbook-kept')).toHaveText(
      String(cells.length)
    );
    expect(
      await panel.locator('.jp-Cookbook-progress').screenshot()
    ).toMatchSnapshot('progress-finished.png', { maxDiffPixelRatio: 0.1 });
  });

  test('shows failed attempts and their fix as steps, never as cells', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('fix.ipynb');
    const path = inTmp(tmpPath, 'fix.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(
      panel,
      '[scripted cells=3 delay=0.1 fail=2 read=1]'
    );
    await waitForStatus(panel, 'finished');
    const steps = panel.locator('.jp-Cookbook-steps');
    await expect(steps).toContainText('Read README.md');
    await expect(steps).toContainText('failed');
    await expect(steps).toContainText('ValueError: scripted failure');
    await expect(steps).toContainText('Fixed “');
    // The scripted provider is the offline one: it uses no model, so no tokens or cost.
    await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
      'data-uses-model',
      'false'
    );
    await expect(panel.locator('.jp-Cookbook-tokens')).toHaveCount(0);
    await expect(panel.locator('.jp-Cookbook-cost')).toHaveCount(0);
    const cells = cookbookCells(await notebookCells(page, path), id);
    expect(cells).toHaveLength(4);
    expect(JSON.stringify(cells)).not.toContain('scripted failure');
  });

  test('cancel stops the generation at once and keeps what was validated', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('cancel.ipynb');
    const path = inTmp(tmpPath, 'cancel.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    // It stops after three code cells until the gate opens, which it never does
    // before the cancel: the generation is surely running when it is cancelled.
    const gate = `${tmpPath}/gate`;
    const id = await generate(
      panel,
      scripted('cells=40 delay=0', gate, [3])
    );
    const inNotebook = async () =>
      cookbookCells(await notebookCells(page, path), id).length;
    // The markdown cell and three code cells.
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(4);
    expect(await serverStatus(page, id)).toBe('running');
    expect(
      await panel.locator('.jp-Cookbook-progress').screenshot()
    ).toMatchSnapshot('progress-running.png', { maxDiffPixelRatio: 0.2 });
    const started = Date.now();
    await panel.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitForStatus(panel, 'cancelled', 15_000);
    const stopDelay = Date.now() - started;
    expect(stopDelay).toBeLessThan(5_000);

    const server = await serverGeneration(page, id);
    expect(server.status).toBe('cancelled');
    expect(server.cells).toHaveLength(4);
    // Nothing more arrives afterwards: a provider that missed the cancel would
    // go on once its gate opens, but the stream is closed, ending in the cancel.
    await openGate(page, gate, 3);
    const response = await page.request.get(
      `/cookbook/generations/${id}/events?after=0&timeout=0`
    );
    const { events, done } = await response.json();
    expect(done).toBe(true);
    expect(events[events.length - 1].type).toBe('cancelled');
    expect((await serverGeneration(page, id)).cells).toHaveLength(4);
    expect(await inNotebook()).toBe(4);
  });

  test('a page reload during a generation loses nothing and duplicates nothing', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('reload.ipynb');
    const path = inTmp(tmpPath, 'reload.ipynb');
    let panel = await openCookbook(page);
    await ingestFixture(panel);
    // Held after 3 code cells (saved), then after 6 (not saved, then the reload).
    const gate = `${tmpPath}/gate`;
    const id = await generate(
      panel,
      scripted('cells=12 delay=0', gate, [3, 6])
    );
    const inNotebook = async () =>
      cookbookCells(await notebookCells(page, path), id).length;
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(4);
    // Save what is there so far, so the reload finds some cells on disk and
    // must not insert them twice; the rest were unsaved and must come back.
    await page.notebook.save();
    await openGate(page, gate, 3);
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(7);

    page.on('dialog', dialog => void dialog.accept());
    // Galata's ready check waits for a Launcher; the restored layout has the notebook.
    await page.reload({ waitForIsReady: false });
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    panel = await openCookbook(page);
    // Still running (held): the unsaved cells come back from the server.
    await waitForStatus(panel, 'running', 60_000);
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(7);
    await openGate(page, gate, 6);
    await waitForStatus(panel, 'finished', 60_000);

    const server = await serverGeneration(page, id);
    expect(server.cells).toHaveLength(13);
    await expect
      .poll(inNotebook, { timeout: 15_000 })
      .toBe(server.cells.length);
    const ids = cookbookCells(await notebookCells(page, path), id).map(
      c => c.metadata.cookbook.cell_id
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(await validatedOrder(page, id));
  });
  test('a dropped connection during a generation loses nothing and duplicates nothing', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('dropped.ipynb');
    const path = inTmp(tmpPath, 'dropped.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    // Held after 2 code cells (before the drop) and after 8 (while it lasts).
    const gate = `${tmpPath}/gate`;
    const id = await generate(
      panel,
      scripted('cells=16 delay=0', gate, [2, 8])
    );
    const inNotebook = async () =>
      cookbookCells(await notebookCells(page, path), id).length;
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(3);

    // Every new event request fails, as when the network drops. The request
    // already waiting is answered by the next event: open the gate for it.
    const events = '**/cookbook/generations/*/events*';
    const drop = (route: Route) => route.abort();
    await page.route(events, drop);
    await openGate(page, gate, 2);
    const notice = panel
      .locator('.jp-Cookbook-progress .jp-Cookbook-notice')
      .filter({ hasText: 'reconnecting' });
    await expect(notice).toBeVisible({ timeout: 30_000 });
    const cutOff = await inNotebook();
    // The server goes on validating, up to its next hold (markdown + 8 cells)...
    await expect
      .poll(async () => (await serverGeneration(page, id)).cells.length, {
        timeout: 60_000
      })
      .toBe(9);
    // ...and none of it reached the notebook meanwhile.
    expect(cutOff).toBeLessThan(9);
    expect(await inNotebook()).toBe(cutOff);

    await page.unroute(events, drop);
    // Back online, still running: what was missed comes in.
    await expect.poll(inNotebook, { timeout: 60_000 }).toBe(9);
    await expect(notice).toHaveCount(0);
    expect(await serverStatus(page, id)).toBe('running');
    await openGate(page, gate, 8);
    await waitForStatus(panel, 'finished', 60_000);

    const server = await serverGeneration(page, id);
    expect(server.cells).toHaveLength(17);
    await expect
      .poll(inNotebook, { timeout: 15_000 })
      .toBe(server.cells.length);
    const ids = cookbookCells(await notebookCells(page, path), id).map(
      c => c.metadata.cookbook.cell_id
    );
    // Each validated cell exactly once, in the generation's order.
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(await validatedOrder(page, id));
    expect([...ids].sort()).toEqual(
      server.cells.map((c: any) => c.metadata.cookbook.cell_id).sort()
    );
  });
});
