import { expect, test } from '@jupyterlab/galata';
import type { Route } from '@playwright/test';

import {
  cookbookCells,
  generate,
  ingestFixture,
  inTmp,
  notebookCells,
  openCookbook,
  serverGeneration,
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
    await expect(approval).toContainText('Run cell');
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
    await expect(steps).toContainText('Fixed cell');
    await expect(panel.locator('.jp-Cookbook-tokens')).not.toHaveText('0');
    await expect(panel.locator('.jp-Cookbook-cost')).toHaveText(/^\$/);
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
    const id = await generate(panel, '[scripted cells=40 delay=0.4]');
    await expect
      .poll(
        async () => cookbookCells(await notebookCells(page, path), id).length,
        { timeout: 30_000 }
      )
      .toBeGreaterThanOrEqual(3);
    expect(
      await panel.locator('.jp-Cookbook-progress').screenshot()
    ).toMatchSnapshot('progress-running.png', { maxDiffPixelRatio: 0.2 });
    const started = Date.now();
    await panel.getByRole('button', { name: 'Cancel' }).click();
    await waitForStatus(panel, 'cancelled', 15_000);
    const stopDelay = Date.now() - started;
    expect(stopDelay).toBeLessThan(5_000);

    const server = await serverGeneration(page, id);
    expect(server.status).toBe('cancelled');
    const count = cookbookCells(await notebookCells(page, path), id).length;
    expect(count).toBe(server.cells.length);
    expect(count).toBeLessThan(41);
    // Nothing more arrives afterwards.
    await page.waitForTimeout(1500);
    expect(cookbookCells(await notebookCells(page, path), id)).toHaveLength(
      count
    );
  });

  test('a page reload during a generation loses nothing and duplicates nothing', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('reload.ipynb');
    const path = inTmp(tmpPath, 'reload.ipynb');
    let panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(panel, '[scripted cells=12 delay=0.5]');
    await expect
      .poll(
        async () => cookbookCells(await notebookCells(page, path), id).length,
        { timeout: 30_000 }
      )
      .toBeGreaterThanOrEqual(3);
    // Save what is there so far, so the reload finds some cells on disk and
    // must not insert them twice; the rest were unsaved and must come back.
    await page.notebook.save();
    await expect
      .poll(
        async () => cookbookCells(await notebookCells(page, path), id).length,
        { timeout: 30_000 }
      )
      .toBeGreaterThanOrEqual(5);

    page.on('dialog', dialog => void dialog.accept());
    // Galata's ready check waits for a Launcher; the restored layout has the notebook.
    await page.reload({ waitForIsReady: false });
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    await expect(page.locator('.jp-NotebookPanel')).toBeVisible();
    panel = await openCookbook(page);
    await waitForStatus(panel, 'finished', 60_000);

    const server = await serverGeneration(page, id);
    await expect
      .poll(
        async () => cookbookCells(await notebookCells(page, path), id).length,
        { timeout: 15_000 }
      )
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
    const id = await generate(panel, '[scripted cells=16 delay=0.4]');
    const inNotebook = async () =>
      cookbookCells(await notebookCells(page, path), id).length;
    await expect
      .poll(inNotebook, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);

    // Every event request fails, as when the network drops, for a few seconds.
    const events = '**/cookbook/generations/*/events*';
    const drop = (route: Route) => route.abort();
    await page.route(events, drop);
    const notice = panel
      .locator('.jp-Cookbook-progress .jp-Cookbook-notice')
      .filter({ hasText: 'reconnecting' });
    await expect(notice).toBeVisible({ timeout: 30_000 });
    const cutOff = await inNotebook();
    await page.waitForTimeout(3_000);
    // Nothing reached the notebook meanwhile; the server went on validating.
    expect(await inNotebook()).toBe(cutOff);
    expect((await serverGeneration(page, id)).cells.length).toBeGreaterThan(
      cutOff
    );

    await page.unroute(events, drop);
    await waitForStatus(panel, 'finished', 60_000);
    await expect(notice).toHaveCount(0);

    const server = await serverGeneration(page, id);
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
