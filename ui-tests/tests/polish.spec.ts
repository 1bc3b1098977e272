/**
 * Polish that users notice: the keyboard, the ways in (palette, notebook
 * toolbar, Launcher), names a screen reader can tell apart, a step log that
 * is not read out step by step, nothing cut off at 250 px, a history that
 * tells runs apart and downloads named after them.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  expectNothingCutOff,
  forceApproval,
  generate,
  ingestFixture,
  keepScreenshot,
  openCookbook,
  PANEL,
  resizeSidebar,
  waitApproving,
  waitForStatus
} from './helpers';

test.describe('Polish', () => {
  test('Ctrl+Enter in the prompt generates', async ({ page }) => {
    await page.notebook.createNew('keys.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const prompt = panel.getByLabel('What should the notebook do?');
    await prompt.fill('[scripted cells=1 delay=0]');
    await prompt.press('Control+Enter');
    await waitForStatus(panel, 'finished');
  });

  test('the notebook toolbar button and the Launcher tile open the panel', async ({
    page
  }) => {
    await page.notebook.createNew('toolbar.ipynb');
    // Another sidebar panel first, so "open" is seen to happen.
    await page
      .locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]')
      .click();
    await expect(page.locator(PANEL)).toBeHidden();
    await page
      .locator('.jp-NotebookPanel-toolbar [data-command="cookbook:open"]')
      .click();
    await expect(page.locator(PANEL)).toBeVisible();

    await page.locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]').click();
    await page.menu.clickMenuItem('File>New Launcher');
    const tile = page.locator('.jp-LauncherCard[title="Cookbook"]:visible');
    await expect(tile).toBeVisible();
    const before = await page.locator('.jp-NotebookPanel').count();
    await tile.click();
    await expect(page.locator(PANEL)).toBeVisible();
    await expect(page.locator('.jp-NotebookPanel')).toHaveCount(before + 1);
    await expect(page.locator(PANEL).locator('.jp-Cookbook-target')).toContainText(
      'Untitled'
    );
  });

  test('history entries say repository, recipe, time, status and cells, with names of their own', async ({
    page
  }) => {
    await page.notebook.createNew('names.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    // The same prompt twice: the entries still tell themselves apart.
    for (let i = 0; i < 2; i++) {
      await generate(panel, '[scripted cells=1 delay=0]');
      await waitForStatus(panel, 'finished');
    }
    const items = panel.locator('.jp-Cookbook-historyItem');
    await expect(items.first().locator('.jp-Cookbook-historyMeta')).toHaveText(
      /^tiny-sentiment · quickstart \d+\.\d+\.\d+ · .+ · 2 cells$/
    );
    await expect(items.first().locator('.jp-Cookbook-status')).toHaveText(
      'Finished'
    );
    const names = await panel
      .locator('.jp-Cookbook-historySection button')
      .evaluateAll(buttons =>
        buttons.map(b => b.getAttribute('aria-label') ?? b.textContent)
      );
    // Two entries may share a minute: their names differ by the entry's own words or they are the Refresh button.
    const opens = names.filter(n => n?.startsWith('Open'));
    expect(opens.length).toBeGreaterThanOrEqual(2);
    expect(opens.every(n => n !== 'Open')).toBe(true);

    // The download is named after the run.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      items.first().getByRole('button', { name: /^Download/ }).click()
    ]);
    expect(download.suggestedFilename()).toMatch(
      /^tiny-sentiment-quickstart-\d{4}-?\d{2}-?\d{2}.*\.ipynb$/
    );
  });

  test('the step log is not read aloud step by step; a polite summary is', async ({
    page
  }) => {
    await page.notebook.createNew('live.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await generate(panel, '[scripted cells=2 delay=0]');
    await waitForStatus(panel, 'finished');
    const steps = panel.locator('.jp-Cookbook-steps');
    await expect(steps).not.toHaveAttribute('aria-live', /.*/);
    expect(await steps.locator('[aria-live]').count()).toBe(0);
    const summary = panel.locator('.jp-Cookbook-progress [role="status"]');
    await expect(summary).toHaveCount(1);
    await expect(summary).toHaveAttribute('aria-live', 'polite');
    await expect(summary).toHaveText(/^Finished: 3 cells kept\./);
  });

  test('nothing is cut off at the narrowest sidebar', async ({ page }) => {
    await page.notebook.createNew('narrow.ipynb');
    await forceApproval(page, 'always');
    const panel = await openCookbook(page);
    await resizeSidebar(page, panel, 250);
    await ingestFixture(panel);
    // A real install cell from the repository: its card says what it will do.
    await generate(panel, 'Score the sentiment of a few sentences');
    const card = panel.locator('.jp-Cookbook-approval').first();
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expectNothingCutOff(card, 'code, button, .jp-Cookbook-approvalQuestion', panel);
    await keepScreenshot(card, 'approval-250px');
    await waitApproving(panel, 'finished|failed', 90_000, 'Skip it');
    // A run with nothing kept: its sentence and its next steps.
    await generate(panel, '[scripted cells=1 delay=0 md=0 broken=1]');
    await waitApproving(panel, 'finished|failed');
    const progress = panel.locator('.jp-Cookbook-progress');
    await expectNothingCutOff(progress, '.jp-Cookbook-cause, .jp-Cookbook-nextSteps button, .jp-Cookbook-progressHead button', panel);
    await expectNothingCutOff(panel, '.jp-Cookbook-historyItem button, .jp-Cookbook-historyMeta', panel);
    await expectNothingCutOff(panel, '.jp-Cookbook-generate select, .jp-Cookbook-generate label, .jp-Cookbook-recipe select', panel);
    await keepScreenshot(panel, 'panel-250px');
  });
});
