/**
 * A comparison (issue 11): the same recipe run by two providers, each in a
 * kernel of its own, shown side by side; the user inserts the one they pick.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  cookbookCells,
  ingestFixture,
  inTmp,
  keepScreenshot,
  notebookCells,
  openCookbook
} from './helpers';

test.describe('Comparing providers', () => {
  test('runs side by side, then "Insert this one" puts the chosen run in the notebook', async ({
    page,
    tmpPath
  }) => {
    const status = await (await page.request.get('/cookbook/status')).json();
    const names = status.providers
      .filter((p: any) => p.available)
      .map((p: any) => p.name);
    test.skip(
      !names.includes('echo'),
      'the echo test plug-in (tests/plugin_provider) is not installed'
    );
    await page.notebook.createNew('compare.ipynb');
    const path = inTmp(tmpPath, 'compare.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await panel
      .getByLabel('What should the notebook do?')
      .fill('[scripted cells=2 delay=0]');
    const section = panel.locator('.jp-Cookbook-compare');
    await section.getByRole('button', { name: 'Compare runs' }).click();
    await section.getByLabel('offline').check();
    await section.getByLabel('Echo (test plug-in)').check();
    await section.getByRole('button', { name: 'Compare 2 runs' }).click();

    const runs = section.locator('.jp-Cookbook-run');
    await expect(runs).toHaveCount(2);
    await expect(runs.nth(0)).toHaveAttribute('data-status', 'finished', {
      timeout: 90_000
    });
    await expect(runs.nth(1)).toHaveAttribute('data-status', 'finished', {
      timeout: 90_000
    });
    await expect(runs.nth(0)).toContainText('3 cells');
    await expect(runs.nth(1)).toContainText('1 cell');
    // Nothing went into the notebook before the user picked a run.
    expect(cookbookCells(await notebookCells(page, path))).toHaveLength(0);
    await keepScreenshot(section, 'comparison');

    await runs
      .nth(1)
      .getByRole('button', { name: /Insert the run of echo/ })
      .click();
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'Inserted 1 cell'
    );
    const cells = cookbookCells(await notebookCells(page, path));
    expect(cells).toHaveLength(1);
    expect(JSON.stringify(cells[0].source)).toContain('plugin');
  });
});
