/**
 * Automated accessibility checks (axe-core through Playwright) of what
 * Cookbook draws, in the light and the dark theme: the panel with a finished
 * run, its history and follow-up box, a question waiting for approval, an
 * empty run's next steps, and the cells' badges. WCAG 2.x A and AA rules,
 * colour contrast among them.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  forceApproval,
  generate,
  ingestFixture,
  keepScreenshot,
  openCookbook,
  PANEL,
  scripted,
  waitApproving,
  waitForStatus
} from './helpers';

test.describe.configure({ mode: 'serial' });

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * Run axe on each part, scrolled into view first: axe rates the contrast of
 * what is on screen only, and the panel scrolls.
 */
async function check(
  page: IJupyterLabPageFixture,
  parts: string[],
  name: string
): Promise<void> {
  // JupyterLab's <body> is 0 px high with `overflow: hidden` (the shell is
  // positioned over it): axe would take every element for clipped and rate
  // none. A body as high as the window changes nothing on screen.
  // The step log scrolls: shown whole, each step is rated (colours are the same).
  await page.addStyleTag({
    content:
      'body { height: 100vh; } .jp-Cookbook-steps { max-height: none !important; }'
  });
  const found: any[] = [];
  const undecided: any[] = [];
  let rated = 0;
  for (const part of parts) {
    const target = page.locator(part).first();
    await expect(target, `${part} is there to check`).toBeVisible();
    await target.scrollIntoViewIfNeeded();
    const result = await new AxeBuilder({ page })
      .withTags(TAGS)
      .include(part)
      .analyze();
    found.push(
      ...result.violations.map(v => ({
        part,
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.slice(0, 5).map(n => ({
          target: n.target.join(' '),
          summary: n.failureSummary
        }))
      }))
    );
    // What axe could not decide is a failure too: a colour it cannot rate
    // is not a colour that passes.
    undecided.push(
      ...result.incomplete
        .filter(v => v.id === 'color-contrast')
        .flatMap(v =>
          v.nodes.map(n => ({
            part,
            target: n.target.join(' '),
            why: n.any.map(a => a.message).join('; ')
          }))
        )
        // An icon (✓, •) is no text to rate; its meaning is in the words beside it.
        .filter(n => !/only non-text characters/.test(n.why))
    );
    rated +=
      result.passes.find(v => v.id === 'color-contrast')?.nodes.length ?? 0;
  }
  await test.info().attach(`axe-${name}.json`, {
    body: JSON.stringify({ violations: found, undecided, rated }, null, 2),
    contentType: 'application/json'
  });
  expect(found, `axe found problems in ${name}`).toEqual([]);
  expect(undecided, `axe could not rate some contrast in ${name}`).toEqual([]);
  // The check looked at text, not at nothing.
  expect(rated, `texts rated for contrast in ${name}`).toBeGreaterThan(0);
}

for (const theme of ['light', 'dark'] as const) {
  test.describe(`In the ${theme} theme`, () => {
    test.beforeEach(async ({ page }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      } else {
        await page.theme.setLightTheme();
      }
    });

    test('the panel, its progress, history and follow-up box, and the cells’ badges', async ({
      page
    }) => {
      await page.notebook.createNew(`a11y-${theme}.ipynb`);
      const panel = await openCookbook(page);
      await ingestFixture(panel);
      await generate(panel, '[scripted cells=2 delay=0 titled=1]');
      await waitForStatus(panel, 'finished');
      await expect(page.locator('.jp-Cookbook-cellBadge').first()).toBeVisible();
      await check(
        page,
        [
          `${PANEL} .jp-Cookbook-header`,
          `${PANEL} .jp-Cookbook-source`,
          `${PANEL} .jp-Cookbook-recipe`,
          `${PANEL} .jp-Cookbook-generate`,
          `${PANEL} .jp-Cookbook-progressHead`,
          `${PANEL} .jp-Cookbook-stats`,
          `${PANEL} .jp-Cookbook-outcome`,
          `${PANEL} .jp-Cookbook-steps`,
          `${PANEL} .jp-Cookbook-followUp`,
          `${PANEL} .jp-Cookbook-historySection`
        ],
        `panel-${theme}`
      );
      await check(page, ['.jp-Cookbook-cellBadgeRow'], `badges-${theme}`);
      await keepScreenshot(panel, `panel-finished-${theme}`);
    });

    test('a question waiting for approval, and a run that kept nothing', async ({
      page
    }) => {
      await page.notebook.createNew(`a11y-q-${theme}.ipynb`);
      await forceApproval(page, 'always');
      const panel = await openCookbook(page);
      await ingestFixture(panel);
      await generate(panel, '[scripted cells=1 delay=0 md=0 broken=1]');
      await expect(panel.locator('.jp-Cookbook-approval')).toBeVisible({
        timeout: 60_000
      });
      await check(
        page,
        [`${PANEL} .jp-Cookbook-approval`, `${PANEL} .jp-Cookbook-progressHead`],
        `approval-${theme}`
      );
      await keepScreenshot(panel.locator('.jp-Cookbook-progress'), `approval-${theme}`);
      await waitApproving(panel, 'finished|failed');
      await expect(panel.locator('.jp-Cookbook-cause')).toBeVisible();
      await check(
        page,
        [
          `${PANEL} .jp-Cookbook-outcome`,
          `${PANEL} .jp-Cookbook-steps`,
          `${PANEL} .jp-Cookbook-historySection`
        ],
        `empty-run-${theme}`
      );
      await keepScreenshot(panel.locator('.jp-Cookbook-progress'), `empty-run-${theme}`);
    });

    test('a cancelled run', async ({ page, tmpPath }) => {
      await page.notebook.createNew(`a11y-c-${theme}.ipynb`);
      const panel = await openCookbook(page);
      await ingestFixture(panel);
      // It waits after one code cell, for a gate that never opens.
      await generate(
        panel,
        scripted('cells=3 delay=0', `${tmpPath}/gate`, [1])
      );
      await expect(panel.locator('.jp-Cookbook-kept')).toHaveText('2', {
        timeout: 60_000
      });
      await panel.getByRole('button', { name: 'Cancel', exact: true }).click();
      await waitForStatus(panel, 'cancelled');
      await check(
        page,
        [`${PANEL} .jp-Cookbook-progressHead`, `${PANEL} .jp-Cookbook-outcome`],
        `cancelled-${theme}`
      );
    });
  });
}
