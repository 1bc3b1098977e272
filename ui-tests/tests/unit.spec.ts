/**
 * A generation is one unit in the notebook: its cells sit together where the
 * user asked, replace a new notebook's empty cell (or the previous run),
 * carry a badge that opens their generation, go out at once as one undo
 * step, and come in again clean.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import {
  cellBadges,
  cookbookCells,
  generate,
  ingestFixture,
  inTmp,
  keepScreenshot,
  notebookCells,
  openCookbook,
  openNewNotebook,
  waitForStatus
} from './helpers';

test.describe.configure({ mode: 'serial' });

/** The sources of the notebook's cells, in order, from its shared model. */
async function sources(page: IJupyterLabPageFixture, path: string) {
  return (await notebookCells(page, path)).map(c =>
    Array.isArray(c.source) ? c.source.join('') : c.source
  );
}

/** Whose cells (generation id, or "user") the notebook holds, in order. */
async function owners(page: IJupyterLabPageFixture, path: string) {
  return (await notebookCells(page, path)).map(
    c => c.metadata?.cookbook?.generation_id ?? 'user'
  );
}

async function run(panel: Locator, prompt: string): Promise<string> {
  const id = await generate(panel, prompt);
  await waitForStatus(panel, 'finished');
  return id;
}

test.describe('A generation is one unit', () => {
  test('replaces the new notebook’s empty cell, goes at the end, and badges every cell', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('unit.ipynb');
    const path = inTmp(tmpPath, 'unit.ipynb');
    // A new notebook: one empty cell, untouched.
    expect(await sources(page, path)).toEqual(['']);
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await expect(panel.getByLabel('Put the cells')).toHaveValue('end');
    const id = await run(panel, '[scripted cells=2 delay=0 titled=1]');
    const cells = await notebookCells(page, path);
    expect(cells).toHaveLength(3);
    expect(cookbookCells(cells, id)).toHaveLength(3);

    // Each cell says where it came from; a click opens its generation.
    const badges = cellBadges(page);
    await expect(badges).toHaveCount(3);
    await expect(badges.first()).toHaveText(/^Cookbook · run \d\d:\d\d/);
    await expect(badges.first()).toHaveAttribute('title', /Generation /);
    await keepScreenshot(page.locator('.jp-NotebookPanel:visible'), 'cell-badges');

    // Another run, shown; then the badge brings the first one back to the panel.
    await run(panel, '[scripted cells=1 delay=0]');
    await expect(panel.locator('.jp-Cookbook-progress')).not.toHaveAttribute(
      'data-generation-id',
      id
    );
    await badges.first().click();
    await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
      'data-generation-id',
      id
    );
  });

  test('below the active cell, a run never lands inside another run', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('below.ipynb');
    const path = inTmp(tmpPath, 'below.ipynb');
    await page.notebook.setCell(0, 'code', 'mine = 1');
    await page.notebook.addCell('code', 'also_mine = 2');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const first = await run(panel, '[scripted cells=3 delay=0]');
    expect(await owners(page, path)).toEqual([
      'user',
      'user',
      first,
      first,
      first,
      first
    ]);
    // The active cell is in the middle of the first run.
    await page.notebook.selectCells(3);
    await panel.getByLabel('Put the cells').selectOption('after-active');
    const second = await run(panel, '[scripted cells=1 delay=0]');
    expect(await owners(page, path)).toEqual([
      'user',
      'user',
      first,
      first,
      first,
      first,
      second,
      second
    ]);
    // Below a cell of the user's: right there.
    await page.notebook.selectCells(0);
    const third = await run(panel, '[scripted cells=1 delay=0 md=0]');
    expect((await owners(page, path)).slice(0, 3)).toEqual([
      'user',
      third,
      'user'
    ]);
  });

  test('"Replace the previous run" puts the new run where the old one was', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('replace.ipynb');
    const path = inTmp(tmpPath, 'replace.ipynb');
    await page.notebook.setCell(0, 'code', 'top = 1');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const first = await run(panel, '[scripted cells=2 delay=0]');
    await page.notebook.addCell('code', 'bottom = 1');
    const replace = panel.getByLabel(/^Replace the previous run/);
    await expect(replace).toHaveAccessibleName(
      'Replace the previous run (3 cells)'
    );
    await replace.check();
    const second = await run(panel, '[scripted cells=1 delay=0]');
    expect(await owners(page, path)).toEqual(['user', second, second, 'user']);
    expect(cookbookCells(await notebookCells(page, path), first)).toHaveLength(
      0
    );
  });

  test('"Remove its cells" takes the whole run out at once; one undo brings it all back', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('remove.ipynb');
    const path = inTmp(tmpPath, 'remove.ipynb');
    await page.notebook.setCell(0, 'code', 'top = 1');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await run(panel, '[scripted cells=4 delay=0.05]');
    expect(cookbookCells(await notebookCells(page, path), id)).toHaveLength(5);

    await panel.getByRole('button', { name: 'Remove its cells' }).click();
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'Removed 5 cells'
    );
    expect(await sources(page, path)).toEqual(['top = 1']);
    await expect(
      panel.getByRole('button', { name: 'Remove its cells' })
    ).toHaveCount(0);

    // JupyterLab's own undo (command mode, Z): all five at once.
    await page.notebook.selectCells(0);
    await page.keyboard.press('Escape');
    await page.keyboard.press('z');
    await expect
      .poll(async () => cookbookCells(await notebookCells(page, path), id).length)
      .toBe(5);
    expect((await sources(page, path))[0]).toBe('top = 1');
  });

  test('"Insert again" without outputs brings clean cells, ready to run', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('source.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await run(panel, '[scripted cells=2 delay=0]');
    const copy = await openNewNotebook(page, tmpPath, 'copy.ipynb');
    const item = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${id}"]`
    );
    await item.getByRole('button', { name: 'Insert again' }).click();
    await item.getByRole('button', { name: 'Without outputs' }).click();
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'Inserted 3 cells'
    );
    const cells = await notebookCells(page, copy);
    // The copy's empty cell was replaced too.
    expect(cells).toHaveLength(3);
    const code = cells.filter(c => c.cell_type === 'code');
    expect(code.every(c => c.execution_count === null)).toBe(true);
    expect(code.every(c => c.outputs.length === 0)).toBe(true);
  });
});
