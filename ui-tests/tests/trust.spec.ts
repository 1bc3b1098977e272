/**
 * Trust and consent: code from a repository the user has not trusted asks
 * before it runs (and can trust the repository from the question), and the
 * kernel sees a stored secret only when the user ticks it beside Generate.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { notebookCells, openCookbook, resizeSidebar } from './helpers';

test.describe.configure({ mode: 'serial' });

const HELLO = 'print("hello from the repo")';

/** `inner` is drawn entirely within `outer`'s width: nothing is cut off. */
async function expectWithin(inner: Locator, outer: Locator): Promise<void> {
  const a = (await inner.boundingBox())!;
  const b = (await outer.boundingBox())!;
  expect(a.x).toBeGreaterThanOrEqual(b.x - 0.5);
  expect(a.x + a.width).toBeLessThanOrEqual(b.x + b.width + 0.5);
}

/**
 * A small repository under the server root, made through the contents API:
 * a README whose only Python block the offline provider turns into a cell.
 */
async function makeRepository(
  page: IJupyterLabPageFixture,
  folder: string
): Promise<void> {
  const put = async (path: string, data: Record<string, unknown>) => {
    const response = await page.request.put(`/api/contents/${path}`, {
      data
    });
    expect(response.ok()).toBeTruthy();
  };
  await put(folder, { type: 'directory' });
  await put(`${folder}/README.md`, {
    type: 'file',
    format: 'text',
    content: `# greeter\n\nSay hello.\n\n## Usage\n\n\`\`\`python\n${HELLO}\n\`\`\`\n`
  });
}

async function ingest(panel: Locator, source: string): Promise<void> {
  await panel
    .getByLabel('GitHub URL or folder under the Jupyter root')
    .fill(source);
  await panel.getByRole('button', { name: 'Ingest', exact: true }).click();
  await expect(panel.locator('.jp-Cookbook-repo')).toBeVisible();
}

/** `POST cookbook/generations` (the client adds a cache-busting query). */
function isGenerationsUrl(url: string | URL): boolean {
  return new URL(String(url)).pathname.endsWith('/cookbook/generations');
}

test.describe('Trusting a repository', () => {
  test('its code asks first; "Trust this repository and run" runs it and trusts it', async ({
    page,
    tmpPath
  }) => {
    // A new folder each run: trust is remembered by the server.
    const source = `${tmpPath}/greeter-${Date.now()}`;
    await makeRepository(page, source);
    await page.notebook.createNew('trust.ipynb');
    const path = `${tmpPath}/trust.ipynb`;
    const panel = await openCookbook(page);
    await resizeSidebar(page, panel, 250);

    await ingest(panel, source);
    const trust = panel.locator('.jp-Cookbook-trust');
    await expect(trust).toHaveAttribute('data-trusted', 'false');
    await expect(trust).toContainText(
      'Not trusted: its code asks before it runs.'
    );
    const trustButton = trust.getByRole('button', {
      name: 'Trust this repository'
    });
    await expect(trustButton).toBeVisible();
    await expectWithin(trustButton, panel);
    await expectWithin(trust.locator('.jp-Cookbook-trustState'), panel);
    const repoId = await panel
      .locator('.jp-Cookbook-repo')
      .getAttribute('data-repo-id');
    expect(repoId).toBeTruthy();

    await panel
      .getByLabel('What should the notebook do?')
      .fill('Say hello the way the README does');
    const generate = panel.getByRole('button', {
      name: 'Generate into the notebook'
    });
    await expect(generate).toBeEnabled();
    await generate.click();

    // The repository's code waits for the user, shown in full, with whose it is.
    const card = panel.locator('.jp-Cookbook-approval', { hasText: HELLO });
    await expect(card).toBeVisible({ timeout: 60_000 });
    await expect(card).toHaveAttribute('data-origin', 'repository');
    await expect(card).toHaveAttribute('data-untrusted', 'true');
    await expect(card).toContainText('This is code from the repository');
    await expect(card).toContainText('The repository is not trusted');
    await expect(card.locator('.jp-Cookbook-approvalSource')).toHaveText(HELLO);
    await expect(card.getByRole('button', { name: 'Run it' })).toBeVisible();
    await expect(card.getByRole('button', { name: 'Skip it' })).toBeVisible();
    const trustAndRun = card.getByRole('button', {
      name: 'Trust this repository and run'
    });
    await expect(trustAndRun).toBeVisible();
    await expectWithin(trustAndRun, panel);
    await expectWithin(card.locator('.jp-Cookbook-approvalSource'), panel);
    // Nothing of the cell lands before the user says so.
    expect(JSON.stringify(await notebookCells(page, path))).not.toContain(
      'hello from the repo'
    );

    await trustAndRun.click();
    await expect(card).toHaveCount(0);

    // The cell ran and landed in the notebook, its output with it.
    await expect
      .poll(
        async () => {
          const cells = (await notebookCells(page, path)).filter(
            c => c.metadata?.cookbook && c.cell_type === 'code'
          );
          return JSON.stringify(cells);
        },
        { timeout: 60_000 }
      )
      .toContain('hello from the repo\\n');
    await expect(
      page
        .locator('.jp-NotebookPanel .jp-OutputArea-output')
        .filter({ hasText: 'hello from the repo' })
    ).toBeVisible();

    // The Source section says it is trusted now, and so does the server.
    await expect(trust).toHaveAttribute('data-trusted', 'true');
    await expect(trust).toContainText('Trusted');
    await expect(
      trust.getByRole('button', { name: 'Stop trusting' })
    ).toBeVisible();
    const summary = await page.request.get(`/cookbook/repos/${repoId}`);
    expect((await summary.json()).trusted).toBe(true);
    await expect(panel.locator('.jp-Cookbook-progress')).toHaveAttribute(
      'data-status',
      'finished',
      { timeout: 90_000 }
    );
  });

  test('one click trusts a repository and one stops trusting it', async ({
    page,
    tmpPath
  }) => {
    const source = `${tmpPath}/greeter-${Date.now()}`;
    await makeRepository(page, source);
    const panel = await openCookbook(page);
    await ingest(panel, source);
    const trust = panel.locator('.jp-Cookbook-trust');
    await expect(trust).toHaveAttribute('data-trusted', 'false');
    await trust.getByRole('button', { name: 'Trust this repository' }).click();
    await expect(trust).toHaveAttribute('data-trusted', 'true');
    await expect(trust).toContainText('Trusted since');
    await trust.getByRole('button', { name: 'Stop trusting' }).click();
    await expect(trust).toHaveAttribute('data-trusted', 'false');
    await expect(trust).toContainText('Not trusted');
  });
});

test.describe('Secrets by consent', () => {
  const NAME = 'TRUST_SPEC_KEY';

  test.afterEach(async ({ page }) => {
    // The server is shared with the other specs: leave no secret behind.
    await page.request.delete(`/cookbook/secrets/${NAME}`);
  });

  test('a stored secret is offered beside Generate, unticked, and sent only when ticked', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew('consent.ipynb');
    const panel = await openCookbook(page);
    const generateSection = panel.locator('.jp-Cookbook-generate');
    await expect(generateSection.locator('.jp-Cookbook-consent')).toHaveCount(
      0
    );

    // Saved in the Secrets section: the choice beside Generate follows.
    const toggle = panel.locator('#jp-Cookbook-secrets-toggle');
    if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
      await toggle.click();
    }
    const secrets = panel.locator('.jp-Cookbook-secretsSection');
    await secrets.getByLabel('Name', { exact: true }).fill(NAME);
    await secrets
      .getByLabel('Value', { exact: true })
      .fill('trust-spec-0123456789-value');
    await secrets.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(secrets.getByRole('status')).toHaveText(`Saved ${NAME}.`);

    const consent = generateSection.locator('.jp-Cookbook-consent');
    await expect(consent).toContainText('Let the kernel see:');
    const box = consent.getByRole('checkbox', { name: NAME });
    await expect(box).toBeVisible();
    await expect(box).not.toBeChecked();
    const keep = consent.getByRole('checkbox', {
      name: 'Keep them in my kernel afterwards'
    });
    await expect(keep).not.toBeChecked();
    await expect(keep).toBeDisabled();

    // What Generate sends: no secret until ticked. The request is stopped
    // on its way, so nothing runs.
    const sent = async (): Promise<any> => {
      const request = page.waitForRequest(
        r => r.method() === 'POST' && isGenerationsUrl(r.url())
      );
      await panel
        .getByRole('button', { name: 'Generate into the notebook' })
        .click();
      const body = (await request).postDataJSON();
      await expect(
        panel.locator('.jp-Cookbook-generate .jp-Cookbook-error')
      ).toBeVisible();
      return body;
    };
    await page.route(isGenerationsUrl, route =>
      route.request().method() === 'POST' ? route.abort() : route.continue()
    );
    await panel.getByLabel('What should the notebook do?').fill('Say hello');
    const source = `${tmpPath}/greeter-${Date.now()}`;
    await makeRepository(page, source);
    await ingest(panel, source);

    expect((await sent()).secrets).toEqual([]);

    await box.check();
    await expect(keep).toBeEnabled();
    await expect(keep).not.toBeChecked();
    const body = await sent();
    expect(body.secrets).toEqual([NAME]);
    expect(body.keep_secrets).toBeUndefined();
  });
});
