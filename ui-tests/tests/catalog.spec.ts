/**
 * The recipe catalogue (issue 11): packs an administrator publishes, listed
 * in the panel with their state; installing one puts its recipes in the
 * Template list at once, removing it takes them away. A catalogue that is
 * down is named with the server's message, and the others keep working.
 *
 * jupyter_server_test_config.py serves the catalogue from 127.0.0.1 (an
 * index listing `galata-pack` 1.0.0, a .zip of the recipe `galata_catalog`)
 * and lists a second, down one on a closed port.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { openCookbook } from './helpers';

const PACK = 'galata-pack';
const RECIPE = 'galata_catalog';
const DOWN = 'http://127.0.0.1:9/index.json';

/** Open the panel's Recipe catalogue section (it remembers being open) and return it. */
async function openCatalog(panel: Locator): Promise<Locator> {
  const toggle = panel.locator('#jp-Cookbook-catalog-toggle');
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  return panel.locator('.jp-Cookbook-catalogSection');
}

test.describe('The recipe catalogue', () => {
  test.beforeEach(async ({ page }) => {
    // A server reused from an earlier run may have the pack still: start without it.
    const response = await page.request.delete(`/cookbook/catalog/${PACK}`);
    expect([204, 404]).toContain(response.status());
  });

  test('installs a pack: its recipe is in the Template list; Remove takes it away', async ({
    page
  }) => {
    const panel = await openCookbook(page);
    const picker = panel.getByLabel('Template');
    const option = picker.locator(`option[value="${RECIPE}"]`);
    await expect(picker.locator('option[value="quickstart"]')).toHaveCount(1);
    await expect(option).toHaveCount(0);

    const section = await openCatalog(panel);
    const item = section.locator(`.jp-Cookbook-pack[data-pack-id="${PACK}"]`);
    await expect(item).toHaveAttribute('data-state', 'available');
    await expect(item.locator('.jp-Cookbook-packState')).toHaveText(
      'Available: 1.0.0'
    );
    await expect(item).toContainText(
      "A pack served by the Galata tests' own catalogue."
    );
    await expect(item).toContainText(`Recipe: ${RECIPE}`);
    // The catalogue that is down is named, with the server's words.
    await expect(
      section.locator(`.jp-Cookbook-catalogProblems [data-catalog-url="${DOWN}"]`)
    ).toContainText(`Could not read the catalogue ${DOWN}: The catalogue index at ${DOWN} cannot be reached`);

    await section.getByRole('button', { name: `Install pack ${PACK}` }).click();
    await expect(item).toHaveAttribute('data-state', 'installed');
    await expect(item.locator('.jp-Cookbook-packState')).toHaveText(
      'Installed 1.0.0'
    );
    await expect(section.getByRole('status')).toHaveText(
      `Installed ${PACK}: its recipes are in the Template list.`
    );
    // In the picker at once, no reload.
    await expect(option).toHaveText('Catalogue recipe (Galata)');
    const server = await page.request.get('/cookbook/recipes');
    const listed = (await server.json()).recipes.find(
      (r: any) => r.id === RECIPE
    );
    expect(listed).toMatchObject({ source: 'pack', pack: PACK });
    await picker.selectOption(RECIPE);
    await expect(picker).toHaveValue(RECIPE);
    await expect(
      section.getByRole('button', { name: `Install pack ${PACK}` })
    ).toHaveCount(0);

    await section.getByRole('button', { name: `Remove pack ${PACK}` }).click();
    await expect(item).toHaveAttribute('data-state', 'available');
    await expect(section.getByRole('status')).toHaveText(`Removed ${PACK}.`);
    await expect(option).toHaveCount(0);
    // The form moves to a recipe that is there.
    await expect(picker).not.toHaveValue(RECIPE);
    await expect(
      section.getByRole('button', { name: `Install pack ${PACK}` })
    ).toBeEnabled();
  });

  test('passes the accessibility checks with a pack and a catalogue that is down', async ({
    page
  }) => {
    const panel = await openCookbook(page);
    const section = await openCatalog(panel);
    await expect(
      section.locator(`.jp-Cookbook-pack[data-pack-id="${PACK}"]`)
    ).toBeVisible();
    await expect(section.locator('.jp-Cookbook-catalogProblems')).toBeVisible();
    // JupyterLab's <body> is 0 px high (the shell sits over it): axe would
    // rate nothing as visible. A body as high as the window changes nothing.
    await page.addStyleTag({ content: 'body { height: 100vh; }' });
    await section.scrollIntoViewIfNeeded();
    const result = await new AxeBuilder({ page })
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .include('.jp-Cookbook-catalogSection')
      .analyze();
    expect(
      result.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.length }))
    ).toEqual([]);
  });
});
