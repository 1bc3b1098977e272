import { expect, test } from '@jupyterlab/galata';

import {
  cookbookCells,
  generate,
  ingestFixture,
  inTmp,
  notebookCells,
  notebookKernelId,
  openCookbook,
  openGate,
  openNewNotebook,
  scripted,
  validatedOrder,
  waitForStatus
} from './helpers';

test.describe('Around a generation', () => {
  test("starts the notebook's kernel when none is running", async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('nokernel.ipynb', { kernel: null });
    const path = inTmp(tmpPath, 'nokernel.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'its kernel will be started'
    );
    const id = await generate(panel, '[scripted cells=2 delay=0.05]');
    await waitForStatus(panel, 'finished');
    expect(await notebookKernelId(page, path)).toBeTruthy();
    expect(cookbookCells(await notebookCells(page, path), id)).toHaveLength(3);
  });

  test('cells wait while the target is closed, and go in when it is reopened', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('closed.ipynb');
    const path = inTmp(tmpPath, 'closed.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    // It waits after two code cells until the notebook is closed.
    const gate = `${tmpPath}/gate`;
    const id = await generate(panel, scripted('cells=8 delay=0', gate, [2]));
    await expect
      .poll(
        async () => cookbookCells(await notebookCells(page, path), id).length,
        {
          timeout: 60_000
        }
      )
      .toBe(3);
    await page.notebook.save();
    // Close it, dropping whatever was not saved; only then does the generation go on.
    await page.notebook.close(true);
    await openGate(page, gate, 2);
    await waitForStatus(panel, 'finished', 60_000);

    const offer = panel.locator('.jp-Cookbook-offer');
    await expect(offer).toContainText('which is closed');
    expect(await offer.screenshot()).toMatchSnapshot('offer-closed.png', {
      maxDiffPixelRatio: 0.2
    });
    await offer.getByRole('button', { name: 'Open the notebook' }).click();
    await expect(offer).toContainText('are waiting for closed.ipynb.');
    await offer.getByRole('button', { name: 'Insert them' }).click();
    await expect(offer).toHaveCount(0);

    const ids = cookbookCells(await notebookCells(page, path), id).map(
      c => c.metadata.cookbook.cell_id
    );
    expect(ids).toEqual(await validatedOrder(page, id));
  });

  test('the history downloads a generation and inserts its cells again', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('first.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const id = await generate(panel, '[scripted cells=3 delay=0.05]');
    await waitForStatus(panel, 'finished');

    const item = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${id}"]`
    );
    await expect(item).toContainText('Finished');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      item.getByRole('button', { name: 'Download' }).click()
    ]);
    expect(download.suggestedFilename()).toMatch(/\.ipynb$/);

    const second = await openNewNotebook(page, tmpPath, 'second.ipynb');
    await item.getByRole('button', { name: 'Insert again' }).click();
    await item.getByRole('button', { name: 'With its outputs' }).click();
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'Inserted 4 cells'
    );
    const again = cookbookCells(await notebookCells(page, second), id);
    expect(again.map(c => c.metadata.cookbook.cell_id)).toEqual(
      await validatedOrder(page, id)
    );
    // Clean cells: no stale execution counts; the outputs say whose they are.
    const code = again.filter(c => c.cell_type === 'code');
    expect(code.every(c => c.execution_count === null)).toBe(true);
    expect(code[0].outputs.length).toBeGreaterThan(0);
    expect(code[0].metadata.cookbook.outputs_from.generation_id).toBe(id);
    await expect(
      page.locator('.jp-NotebookPanel:visible .jp-Cookbook-cellBadge').last()
    ).toContainText('outputs of that run');
    // A second time inserts nothing twice.
    await item.getByRole('button', { name: 'Insert again' }).click();
    await item.getByRole('button', { name: 'Without outputs' }).click();
    await expect(panel.locator('.jp-Cookbook-generate')).toContainText(
      'already in'
    );
    expect(cookbookCells(await notebookCells(page, second), id)).toHaveLength(
      4
    );

    // Open shows its steps again.
    await item.getByRole('button', { name: 'Open' }).click();
    await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
      'data-generation-id',
      id
    );
  });
});
