/**
 * Approvals the user cannot miss: raised while the panel is hidden, a cell
 * waiting for approval shows a count on the Cookbook icon, a notification
 * with Run / Skip and a status-bar item; with the panel showing, the focus
 * moves to the question.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  cookbookCells,
  forceApproval,
  generate,
  ingestFixture,
  inTmp,
  keepScreenshot,
  notebookCells,
  openCookbook,
  openGate,
  PANEL,
  scripted,
  waitForStatus
} from './helpers';

test.describe('Approvals you cannot miss', () => {
  test('an approval raised while the panel is hidden: badge, notification with Run, status bar', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('hidden.ipynb');
    const path = inTmp(tmpPath, 'hidden.ipynb');
    await forceApproval(page, 'always');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    const gate = `${tmpPath}/gate`;
    // It waits, before its first code cell, for the panel to be hidden.
    const id = await generate(panel, scripted('cells=2 delay=0', gate, [0]));

    // The File Browser takes the sidebar: the panel is hidden.
    await page
      .locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]')
      .click();
    await expect(page.locator(PANEL)).toBeHidden();
    await openGate(page, gate, 0);

    const tab = page.locator(
      '.jp-SideBar.jp-mod-left [data-id="jp-cookbook-panel"]'
    );
    await expect(tab).toHaveAttribute('data-cookbook-pending', '1', {
      timeout: 60_000
    });
    await expect(tab).toHaveAttribute(
      'title',
      'Cookbook: 1 cell is waiting for your approval'
    );
    const status = page.locator('.jp-Cookbook-statusItem');
    await expect(status).toHaveText('Cookbook: 1 cell waiting for your approval');
    const toasts = page.locator('.Toastify__toast').filter({
      hasText: /Cookbook asks to run .+ in hidden\.ipynb\./
    });
    await expect(toasts).toHaveCount(1);
    // It says exactly why it asks.
    await expect(toasts).toContainText('approval setting: always');
    await keepScreenshot(page, 'approval-while-hidden');

    // Run, from the notification; the next cell asks in turn: Skip it.
    await toasts.getByRole('button', { name: 'Run', exact: true }).click();
    const asked = async () => {
      const r = await page.request.get(
        `/cookbook/generations/${id}/events?after=0&timeout=0`
      );
      return (await r.json()).events.filter(
        (e: any) => e.type === 'approval_required'
      ).length;
    };
    await expect.poll(asked, { timeout: 60_000 }).toBe(2);
    // The first went with its answer; the second asks about the next cell.
    const second = page
      .getByRole('alert')
      .filter({ hasText: /Cookbook asks to run .*cell 2.* in hidden\.ipynb\./ });
    await expect(second).toHaveCount(1);
    await second.getByRole('button', { name: 'Skip', exact: true }).click();
    await expect(tab).not.toHaveAttribute('data-cookbook-pending', /.*/, {
      timeout: 60_000
    });
    await expect(status).toBeHidden();
    await expect
      .poll(async () => cookbookCells(await notebookCells(page, path), id).length, {
        timeout: 60_000
      })
      .toBe(2); // the heading, and the cell run from the notification
    await tab.click();
    await waitForStatus(page.locator(PANEL), 'finished');
  });

  test('with the panel showing, the focus moves to the question', async ({
    page
  }) => {
    await page.notebook.createNew('focus.ipynb');
    await forceApproval(page, 'always');
    const panel = await openCookbook(page);
    await ingestFixture(panel);
    await generate(panel, '[scripted cells=1 delay=0 md=0]');
    const card = panel.locator('.jp-Cookbook-approval');
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card).toBeFocused();
    // No notification: the panel shows the question.
    await expect(
      page.locator('.Toastify__toast').filter({ hasText: 'Cookbook asks to run' })
    ).toHaveCount(0);
    // Keyboard only: Tab reaches Run it.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await expect(card.getByRole('button', { name: 'Run it' })).toBeFocused();
    await page.keyboard.press('Enter');
    await waitForStatus(panel, 'finished');
  });
});
