/**
 * Notebook 7 (the `notebook` package, served by the same server at
 * /notebooks/...): the Cookbook panel opens in its left area from the
 * notebook's toolbar, generates into the notebook, and the insertion leaves
 * the notebook "Trusted" (it used to flip to "Not Trusted": inserted code
 * cells came without the `trusted` mark JupyterLab reads, so Notebook 7
 * counted them as untrusted).
 */
import { expect, test } from '@jupyterlab/galata';

import { ingestFixture, keepScreenshot, PANEL, waitForStatus } from './helpers';

/** A notebook with one empty code cell, saved through the contents API. */
async function createNotebook(request: any, url: string): Promise<void> {
  const response = await request.put(url, {
    data: {
      type: 'notebook',
      format: 'json',
      content: {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {
          kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }
        },
        cells: [
          { cell_type: 'code', id: 'first', source: '', metadata: {}, outputs: [], execution_count: null }
        ]
      }
    }
  });
  expect(response.ok()).toBeTruthy();
}

test.describe('Notebook 7', () => {
  test('the panel opens, generates into the notebook, and the notebook stays trusted', async ({
    context,
    baseURL,
    tmpPath
  }) => {
    const path = `${tmpPath}/nb7.ipynb`;
    // A plain page: Galata's own goes to JupyterLab's /lab.
    const page = await context.newPage();
    await createNotebook(page.request, `${baseURL}/api/contents/${path}`);
    await page.goto(`${baseURL}/notebooks/${path}`);
    const trusted = page.locator('.jp-NotebookTrustedStatus');
    await expect(trusted).toHaveText('Trusted', { timeout: 60_000 });
    // A kernel is up before Cookbook is asked for anything.
    await expect(page.locator('.jp-NotebookKernelStatus')).not.toContainText(
      'Connecting',
      { timeout: 60_000 }
    );

    await page
      .locator('.jp-NotebookPanel-toolbar [data-command="cookbook:open"]')
      .click();
    const panel = page.locator(PANEL);
    await expect(panel.locator('.jp-Cookbook-body')).toBeVisible();
    await ingestFixture(panel);
    await expect(panel.locator('.jp-Cookbook-generate .jp-Cookbook-target')).toContainText(
      'nb7.ipynb'
    );
    await panel
      .getByLabel('What should the notebook do?')
      .fill('[scripted cells=2 delay=0]');
    await panel.getByRole('button', { name: 'Generate into the notebook' }).click();
    await waitForStatus(panel, 'finished');

    // The cells are in the notebook, with their outputs and badges; the empty cell is gone.
    await expect(page.locator('.jp-Notebook .jp-Cell')).toHaveCount(3);
    await expect(page.locator('.jp-Notebook .jp-Cookbook-cellBadge')).toHaveCount(3);
    await expect(
      page.locator('.jp-Notebook .jp-OutputArea-output').filter({ hasText: 'cell 2 4' })
    ).toBeVisible();
    // And the notebook's trust is as it was.
    await expect(trusted).toHaveText('Trusted');
    await keepScreenshot(page, 'notebook7');

    // Saved and opened again: still trusted (the server signed it).
    // Notebook 7's own Save command (the app is exposed by the test config).
    const saved = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      if (!app) {
        return false;
      }
      await app.commands.execute('docmanager:save');
      return true;
    });
    if (!saved) {
      await page.locator('.jp-Notebook .jp-InputPrompt').first().click();
      await page.keyboard.press('Control+s');
    }
    await expect
      .poll(async () => {
        const r = await page.request.get(
          `${baseURL}/api/contents/${path}?content=1`
        );
        const nb = r.ok() ? (await r.json()).content : null;
        return (nb?.cells ?? []).filter((c: any) => c.metadata?.cookbook)
          .length;
      })
      .toBe(3);
    await page.reload();
    await expect(trusted).toHaveText('Trusted', { timeout: 60_000 });
  });
});
