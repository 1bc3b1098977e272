/**
 * "Run again" on a history entry (issue 11): a new generation with the same
 * request, recipe version included, into the current notebook; once that
 * version of the recipe is gone, the entry says so in words and offers the
 * current one.
 *
 * The recipe is a file in the administrator's folder the test server reads
 * (`admin-recipes/` under the root, see jupyter_server_test_config.py),
 * written and rewritten through the contents API: the server reloads it.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  generate,
  ingestFixture,
  inTmp,
  notebookCells,
  openCookbook,
  serverGeneration,
  waitForStatus
} from './helpers';

const RECIPE = 'galata_again';
const FILE = `admin-recipes/${RECIPE}.yaml`;
const PROMPT = '[scripted cells=1 delay=0]';

/** The recipe file at `version` (the fields the built-in quickstart has). */
function recipe(version: string): string {
  return [
    `id: ${RECIPE}`,
    `version: ${version}`,
    'title: Run-again recipe (Galata)',
    'description: A recipe whose version the test changes.',
    'order: 95',
    'inputs:',
    '  prompt:',
    '    type: text',
    '    required: true',
    '    description: What the notebook should do.',
    '  complexity:',
    '    type: choice',
    '    choices: [basic, intermediate, advanced]',
    '    default: basic',
    '    description: How far the notebook goes.',
    'instructions: >-',
    '  Template: galata_again. Get to one working result with the repository.',
    ''
  ].join('\n');
}

async function writeRecipe(
  page: IJupyterLabPageFixture,
  version: string
): Promise<void> {
  const response = await page.request.put(`/api/contents/${FILE}`, {
    data: { type: 'file', format: 'text', content: recipe(version) }
  });
  expect(response.ok(), `write ${FILE}`).toBe(true);
  // The server sees the file at once; the panel's list is asked again.
  await expect
    .poll(async () => {
      const list = await (await page.request.get('/cookbook/recipes')).json();
      return list.recipes.find((r: any) => r.id === RECIPE)?.version;
    })
    .toBe(version);
}

/** Ask the Cookbook service for the recipes again (what a reload would do). */
async function refreshRecipes(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(async () => {
    const cookbook = await (window as any).galata.getPlugin('cookbook-ext:core');
    await cookbook.refreshRecipes();
  });
}

test.describe('Run again', () => {
  test.afterEach(async ({ page }) => {
    // The recipe goes: later tests see the built-in recipes only.
    await page.request.delete(`/api/contents/${FILE}`);
  });

  test('runs a finished generation again with its recipe version, and offers the current one once it is gone', async ({
    page,
    tmpPath
  }) => {
    await writeRecipe(page, '1.0.0');
    const notebook = inTmp(tmpPath, 'again.ipynb');
    await page.notebook.createNew('again.ipynb');
    const panel = await openCookbook(page);
    await refreshRecipes(page);
    await ingestFixture(panel);
    const picker = panel.getByLabel('Template');
    await expect(picker.locator(`option[value="${RECIPE}"]`)).toHaveCount(1);
    await picker.selectOption(RECIPE);
    const first = await generate(panel, PROMPT);
    await waitForStatus(panel, 'finished');
    const cells = (await notebookCells(page, notebook)).length;
    expect((await serverGeneration(page, first)).request).toMatchObject({
      template: RECIPE,
      template_version: '1.0.0'
    });

    const progress = panel.locator('.jp-Cookbook-progress');
    const entry = panel.locator(
      `.jp-Cookbook-historyItem[data-generation-id="${first}"]`
    );
    const runAgain = entry.getByRole('button', { name: /^Run again: / });
    await expect(runAgain).toHaveAccessibleName(
      /^Run again: “\[scripted cells=1 delay=0\]” \(.+\), into the current notebook$/
    );

    // The same request, the same recipe version, into the current notebook.
    await runAgain.click();
    await expect(progress).not.toHaveAttribute('data-generation-id', first);
    const second = (await progress.getAttribute('data-generation-id'))!;
    await waitForStatus(panel, 'finished');
    const again = await serverGeneration(page, second);
    expect(again.request).toMatchObject({
      prompt: PROMPT,
      template: RECIPE,
      template_version: '1.0.0',
      repo_id: (await serverGeneration(page, first)).request.repo_id
    });
    expect(again.parent_id ?? null).toBeNull();
    await expect
      .poll(async () => (await notebookCells(page, notebook)).length)
      .toBeGreaterThan(cells);

    // Version 1.0.0 is replaced by 1.2.0: the server refuses the old one.
    await writeRecipe(page, '1.2.0');
    await runAgain.click();
    const gone = entry.locator('.jp-Cookbook-versionGone');
    await expect(gone).toContainText(
      `Version 1.0.0 of recipe ${RECIPE} is no longer available; run with 1.2.0?`
    );
    await expect(progress).toHaveAttribute('data-generation-id', second);

    const runWith = gone.getByRole('button', {
      name: /again with version 1\.2\.0 of galata_again$/
    });
    await expect(runWith).toHaveText('Run with 1.2.0');
    await runWith.click();
    await expect(gone).toHaveCount(0);
    await expect(progress).not.toHaveAttribute('data-generation-id', second);
    const third = (await progress.getAttribute('data-generation-id'))!;
    await waitForStatus(panel, 'finished');
    expect((await serverGeneration(page, third)).request).toMatchObject({
      prompt: PROMPT,
      template: RECIPE,
      template_version: '1.2.0'
    });
  });
});
