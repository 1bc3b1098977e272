/**
 * Follow-ups with memory: after a generation, "now do this" continues it in
 * the same notebook, seeing the cells as they are (the user's edits too),
 * asking before it rewrites a cell the user changed; the history shows the
 * thread.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  cookbookCells,
  generate,
  ingestFixture,
  inTmp,
  keepScreenshot,
  notebookCells,
  openCookbook,
  serverGeneration,
  waitForStatus
} from './helpers';

test.describe.configure({ mode: 'serial' });

function text(source: string | string[]): string {
  return Array.isArray(source) ? source.join('') : source;
}

/** Edit a cell's source the way the user does, through the notebook's model. */
async function editCell(
  page: IJupyterLabPageFixture,
  path: string,
  index: number,
  source: string
): Promise<void> {
  await page.evaluate(
    async ({ p, i, s }) => {
      const cookbook = await (window as any).galata.getPlugin(
        'cookbook-ext:core'
      );
      cookbook.notebooks.find(p).shared.cells[i].setSource(s);
    },
    { p: path, i: index, s: source }
  );
}

test.describe('Follow-ups', () => {
  test('a follow-up over a cell the user edited asks first, shows the change, and replaces it in place', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('follow.ipynb');
    const path = inTmp(tmpPath, 'follow.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const parent = await generate(panel, '[scripted cells=2 delay=0]');
    await waitForStatus(panel, 'finished');

    // The user changes the first code cell (position 1, after the heading).
    let cells = cookbookCells(await notebookCells(page, path), parent);
    expect(cells).toHaveLength(3);
    const edited = cells[1];
    await editCell(page, path, 1, "print('my own version')");

    const box = panel.locator('.jp-Cookbook-followUp');
    await expect(box).toBeVisible();
    const request = page.waitForRequest(
      r =>
        r.method() === 'POST' &&
        new URL(r.url()).pathname.endsWith('/cookbook/generations')
    );
    await box
      .getByLabel('Continue: what should it add or change?')
      .fill('[scripted cells=1 delay=0 md=0 replace=1]');
    await box.getByRole('button', { name: 'Continue the notebook' }).click();
    // What the agent is told: the notebook as it is now, the user's edit marked.
    const body = (await request).postDataJSON();
    expect(body.parent_id).toBe(parent);
    const sent = body.notebook_cells.find((c: any) => c.id === edited.id);
    expect(sent).toMatchObject({ source: "print('my own version')", edited: true });

    // It asks before rewriting the user's cell, with the change as a diff.
    const card = panel.locator('.jp-Cookbook-replacement');
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card.locator('.jp-Cookbook-diffLine[data-kind="removed"]')).toContainText(
      "print('my own version')"
    );
    await expect(card.locator('.jp-Cookbook-diffLine[data-kind="added"]').first()).toContainText(
      'Rewritten by the follow-up'
    );
    // The question takes the focus (the panel is showing).
    await expect(card).toBeFocused();
    await keepScreenshot(panel.locator('.jp-Cookbook-progress'), 'follow-up-replace');
    // Nothing was replaced before the answer.
    expect(text((await notebookCells(page, path))[1].source)).toBe(
      "print('my own version')"
    );
    await card.getByRole('button', { name: 'Replace it' }).click();
    await expect(card).toHaveCount(0);
    await waitForStatus(panel, 'finished');

    // In place, under the same nbformat id; the new cell after the parent's.
    cells = await notebookCells(page, path);
    expect(cells[1].id).toBe(edited.id);
    expect(text(cells[1].source)).toContain('Rewritten by the follow-up');
    const child = await panel
      .locator('.jp-Cookbook-progress')
      .getAttribute('data-generation-id');
    expect(cells.map(c => c.metadata.cookbook?.generation_id)).toEqual([
      parent,
      child,
      parent,
      child
    ]);

    // The server links them, and the history shows the thread.
    expect((await serverGeneration(page, child!)).parent_id).toBe(parent);
    expect((await serverGeneration(page, parent)).children).toContain(child);
    const entry = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${child}"]`
    );
    await expect(entry).toHaveAttribute('data-depth', '1');
    const parentEntry = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${parent}"]`
    );
    // Right under its parent.
    await expect(
      parentEntry.locator('xpath=following-sibling::li[1]')
    ).toHaveAttribute('data-generation-id', child!);
    await keepScreenshot(panel.locator('.jp-Cookbook-historySection'), 'history-thread');
  });

  test('"Keep mine" leaves the user’s cell as they wrote it', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('keep.ipynb');
    const path = inTmp(tmpPath, 'keep.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await generate(panel, '[scripted cells=1 delay=0]');
    await waitForStatus(panel, 'finished');
    await editCell(page, path, 1, 'mine = 42');
    const box = panel.locator('.jp-Cookbook-followUp');
    await box
      .getByLabel('Continue: what should it add or change?')
      .fill('[scripted cells=1 delay=0 md=0 replace=1]');
    // Ctrl+Enter sends it too.
    await box.getByLabel('Continue: what should it add or change?').press('Control+Enter');
    const card = panel.locator('.jp-Cookbook-replacement');
    await expect(card).toBeVisible({ timeout: 60_000 });
    await card.getByRole('button', { name: 'Keep mine' }).click();
    await waitForStatus(panel, 'finished');
    const cells = await notebookCells(page, path);
    expect(text(cells[1].source)).toBe('mine = 42');
    expect(JSON.stringify(cells)).not.toContain('Rewritten by the follow-up');
  });
});
