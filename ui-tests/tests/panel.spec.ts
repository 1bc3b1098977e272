import { expect, test } from '@jupyterlab/galata';

import { ingest, ingestFixture, openCookbook, PANEL } from './helpers';

test.describe('Cookbook panel', () => {
  test('opens from the left sidebar', async ({ page }) => {
    const tab = page.locator(
      '.jp-SideBar.jp-mod-left [data-id="jp-cookbook-panel"]'
    );
    await expect(tab).toBeVisible();
    await tab.click();
    const panel = page.locator(PANEL);
    await expect(panel).toBeVisible();
    await expect(
      panel.getByLabel('GitHub URL or folder under the Jupyter root')
    ).toBeVisible();
    await expect(
      panel.getByRole('button', { name: 'Ingest', exact: true })
    ).toBeDisabled();
    // Recipes and providers come from the server.
    await expect(panel.getByLabel('Template')).toContainText('Quickstart');
    await expect(panel.getByLabel('Provider')).toContainText(
      'Default (offline)'
    );
    // No notebook is open: Generate says why it is disabled.
    await expect(
      panel.getByRole('button', { name: 'Generate into the notebook' })
    ).toBeDisabled();
    await expect(panel.locator('.jp-Cookbook-reason')).toHaveText(
      'Open a notebook: the cells go into the active notebook.'
    );
    expect(await panel.screenshot()).toMatchSnapshot('panel-empty.png');
  });

  test('opens from the command palette', async ({ page }) => {
    await page.keyboard.press('Control+Shift+C');
    await page.locator('#modal-command-palette input').fill('Open Cookbook');
    await page.keyboard.press('Enter');
    await expect(
      page.locator(PANEL).locator('.jp-Cookbook-body')
    ).toBeVisible();
  });

  test('ingests a local folder and shows what was found', async ({ page }) => {
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const repo = panel.locator('.jp-Cookbook-repo');
    await expect(repo.locator('.jp-Cookbook-commit')).toHaveText(
      /^[0-9a-f]{7}$/
    );
    await expect(repo.locator('.jp-Cookbook-filesCount')).toHaveText('6');
    await expect(repo.locator('.jp-Cookbook-contextTokens')).toContainText(
      'tokens'
    );
    await repo.getByText(/^Examples \(\d+\)$/).click();
    await expect(repo.locator('.jp-Cookbook-examples')).toContainText(
      'examples/example_1.py'
    );
    await repo.getByText(/^Dependencies \(\d+\)$/).click();
    await expect(repo.locator('.jp-Cookbook-deps')).toContainText(
      'nbformat >=5.0'
    );
    const hf = repo.locator('.jp-Cookbook-hfIds');
    await expect(hf).toContainText(
      'distilbert/distilbert-base-uncased-finetuned-sst-2-english'
    );
    expect(await panel.screenshot()).toMatchSnapshot('panel-ingested.png');

    // One click picks a mentioned model; its card shows (or says why it cannot).
    await hf.getByRole('button', { name: 'Use' }).first().click();
    await expect(
      panel.locator('.jp-Cookbook-card .jp-Cookbook-modelId')
    ).toHaveText('distilbert/distilbert-base-uncased-finetuned-sst-2-english');
  });

  test('shows the server message when ingestion fails', async ({ page }) => {
    const panel = await openCookbook(page);
    await ingest(panel, 'no/such/folder');
    const error = panel.locator('.jp-Cookbook-error');
    await expect(error).toBeVisible();
    await expect(error).not.toHaveText('');
    await expect(panel.locator('.jp-Cookbook-repo')).toHaveCount(0);
  });
});
