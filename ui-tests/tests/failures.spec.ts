/**
 * Failures that say what to do: a failed or empty run states its cause in
 * one sentence, offers the next steps as buttons, and offers no download or
 * "insert again" of cells it does not have. The offline provider's progress
 * speaks of examples and snippets, with a real elapsed time.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  generate,
  ingestFixture,
  keepScreenshot,
  openCookbook,
  waitApproving,
  waitForStatus
} from './helpers';

test.describe('The end of a run', () => {
  test('an empty run says why, offers the failed attempts, and nothing to download', async ({
    page
  }) => {
    await page.notebook.createNew('empty.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(panel, '[scripted cells=2 delay=0 md=0 broken=1]');
    const progress = panel.locator('.jp-Cookbook-progress');
    await expect(progress).toHaveAttribute('data-status', /finished|failed/, {
      timeout: 90_000
    });
    await expect(panel.locator('.jp-Cookbook-kept')).toHaveText('0');
    // One sentence that says why.
    const cause = progress.locator('.jp-Cookbook-cause');
    await expect(cause).toBeVisible();
    await expect(cause).not.toHaveText('');
    // No download, no "insert again", of nothing.
    await expect(
      progress.getByRole('button', { name: 'Download .ipynb' })
    ).toHaveCount(0);
    const item = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${id}"]`
    );
    await expect(item).toContainText('0 cells');
    await expect(item.getByRole('button', { name: /^Download/ })).toHaveCount(0);
    await expect(item.getByRole('button', { name: /^Insert/ })).toHaveCount(0);

    // The next step: see the failed attempts.
    const steps = progress.locator('.jp-Cookbook-nextSteps');
    await keepScreenshot(progress, 'empty-run');
    await steps.getByRole('button', { name: /failed attempts/i }).click();
    const list = progress.locator('.jp-Cookbook-steps');
    await expect(list).toHaveAttribute('aria-label', 'Failed attempts');
    await expect(list).toBeFocused();
    await expect(list.locator('.jp-Cookbook-step')).toHaveCount(2);
    await expect(list).toContainText('No module named torch');
  });

  test('the offline provider’s progress speaks of examples, names cells by what they do, and times itself', async ({
    page
  }) => {
    await page.notebook.createNew('offline-words.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await generate(panel, 'Score the sentiment of a few sentences');
    await waitApproving(panel, 'finished');
    const progress = panel.locator('.jp-Cookbook-progress');
    await expect(progress).toHaveAttribute('data-uses-model', 'false');
    // No tokens, no cost, no model to wait for.
    await expect(progress.locator('.jp-Cookbook-tokens')).toHaveCount(0);
    await expect(progress.locator('.jp-Cookbook-cost')).toHaveCount(0);
    const steps = progress.locator('.jp-Cookbook-steps');
    await expect(steps).toContainText('examples');
    await expect(steps).not.toContainText('Waiting for the model');
    await expect(steps).not.toContainText(/cell c\d+/);
    await expect(steps).toContainText('“');
    // A real time, not "0s".
    await expect(progress.locator('.jp-Cookbook-elapsed')).toHaveText(
      /^(\d+\.\d|\d+)s$|^\d+m \d\ds$/
    );
    await expect(progress.locator('.jp-Cookbook-elapsed')).not.toHaveText('0.0s');
    await keepScreenshot(progress, 'offline-progress');
  });

  test('the server’s next steps become buttons ("Try with ...", "Install ... and retry")', async ({
    page
  }) => {
    await page.notebook.createNew('next.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(panel, '[scripted cells=1 delay=0 md=0 broken=1]');
    await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
      'data-status',
      /finished|failed/,
      { timeout: 90_000 }
    );
    const response = await page.request.get(
      `/cookbook/generations/${id}/events?after=0&timeout=0`
    );
    const { events } = await response.json();
    const end = events[events.length - 1];
    expect(typeof end.data.cause).toBe('string');
    const steps: any[] = end.data.next_steps ?? [];
    expect(steps.length).toBeGreaterThan(0);
    const buttons = panel.locator('.jp-Cookbook-nextSteps button');
    await expect(buttons).toHaveText(steps.map(s => s.label));
    await expect(panel.locator('.jp-Cookbook-cause')).toHaveText(end.data.cause);
  });

  test('a finished run that re-runs cleanly in a fresh kernel says so, in the progress and the history', async ({
    page
  }) => {
    await page.notebook.createNew('verified.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(panel, '[scripted cells=1 delay=0]');
    await waitForStatus(panel, 'finished');
    const line = panel.locator('.jp-Cookbook-progress .jp-Cookbook-verification');
    await expect(line).toHaveAttribute('data-status', /passed|skipped/);
    const status = await line.getAttribute('data-status');
    if (status === 'passed') {
      await expect(line).toContainText('Re-runs cleanly in a fresh kernel');
    } else {
      await expect(line).toContainText('Not re-run in a fresh kernel');
    }
    const item = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${id}"]`
    );
    await panel.getByRole('button', { name: 'Refresh' }).click();
    await expect(item.locator('.jp-Cookbook-verification')).toHaveAttribute(
      'data-status',
      status!
    );
  });
});
