import { expect, test } from '@jupyterlab/galata';

import { openCookbook, openSecrets } from './helpers';

test.describe.configure({ mode: 'serial' });

// Long enough for the server to show its last four characters as the hint.
const VALUE = 'sk-ant-galata-0123456789-never-shown-WXYZ';
const NAME = 'ANTHROPIC_API_KEY';

test.describe('Secrets', () => {
  test('saves a key without ever showing it, keeps it across a reload, deletes it', async ({
    page
  }) => {
    let panel = await openCookbook(page);
    const anthropic = panel.locator(
      '#jp-Cookbook-provider option[value="anthropic"]'
    );
    await expect(anthropic).toHaveText('anthropic (no API key)');

    // The recipe's "no key" note leads to the Secrets form.
    await panel.getByRole('button', { name: 'Add an API key' }).click();
    let secrets = await openSecrets(panel);
    const name = secrets.getByLabel('Name', { exact: true });
    await expect(name).toBeFocused();
    await expect(secrets.locator('datalist option')).toHaveCount(4);

    await name.fill(NAME);
    const value = secrets.getByLabel('Value', { exact: true });
    await expect(value).toHaveAttribute('type', 'password');
    await value.fill(VALUE);
    await secrets.getByRole('button', { name: 'Save', exact: true }).click();

    let row = secrets.locator(
      `.jp-Cookbook-secret[data-secret-name="${NAME}"]`
    );
    await expect(row.locator('.jp-Cookbook-secretName')).toHaveText(NAME);
    await expect(row.locator('.jp-Cookbook-secretHint')).toHaveText('…WXYZ');
    await expect(row.locator('.jp-Cookbook-secretTime')).toContainText(
      'Updated'
    );
    await expect(secrets.getByRole('status')).toHaveText(`Saved ${NAME}.`);
    // The field is cleared, and the value is nowhere in the page or its storage.
    await expect(value).toHaveValue('');
    await expect(name).toHaveValue('');
    expect(await page.content()).not.toContain(VALUE);
    const stored = await page.evaluate(() =>
      JSON.stringify(Object.entries(window.localStorage))
    );
    expect(stored).not.toContain(VALUE);
    // The provider picker knows about the new key.
    await expect(anthropic).toHaveText('anthropic');
    await expect(anthropic).toBeEnabled();
    await expect(panel.getByText('No model API key is configured')).toHaveCount(
      0
    );

    page.on('dialog', dialog => void dialog.accept());
    await page.reload({ waitForIsReady: false });
    await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
    panel = await openCookbook(page);
    secrets = await openSecrets(panel);
    row = secrets.locator(`.jp-Cookbook-secret[data-secret-name="${NAME}"]`);
    await expect(row.locator('.jp-Cookbook-secretHint')).toHaveText('…WXYZ');
    expect(await page.content()).not.toContain(VALUE);
    await page.mouse.move(0, 0);
    expect(
      await secrets.screenshot({
        mask: [secrets.locator('.jp-Cookbook-secretTime')]
      })
    ).toMatchSnapshot('secrets-section.png');

    // Deleting asks first; cancelling keeps the secret.
    await row.getByRole('button', { name: `Delete ${NAME}` }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Delete ${NAME}?`);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(row).toHaveCount(1);

    await row.getByRole('button', { name: `Delete ${NAME}` }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(row).toHaveCount(0);
    await expect(secrets.getByRole('status')).toHaveText(`Deleted ${NAME}.`);
    await expect(secrets).toContainText('No secrets saved.');
    await expect(
      panel.locator('#jp-Cookbook-provider option[value="anthropic"]')
    ).toHaveText('anthropic (no API key)');
  });

  test("shows the server's message when a secret is refused", async ({
    page
  }) => {
    const panel = await openCookbook(page);
    const secrets = await openSecrets(panel);
    await secrets.getByLabel('Name', { exact: true }).fill('HF_TOKEN');
    const value = secrets.getByLabel('Value', { exact: true });
    // Blank is not a value: nothing to send.
    await value.fill('   ');
    const save = secrets.getByRole('button', { name: 'Save', exact: true });
    await expect(save).toBeDisabled();
    // Longer than the server takes: its message shows, the value stays to fix.
    const tooLong = 'x'.repeat(16385);
    await value.fill(tooLong);
    await save.click();
    await expect(secrets.locator('.jp-Cookbook-error')).toContainText('16384');
    await expect(value).toHaveValue(tooLong);
    await expect(secrets.locator('.jp-Cookbook-secret')).toHaveCount(0);
  });

  test('explains a name the server would refuse, and does not send it', async ({
    page
  }) => {
    const panel = await openCookbook(page);
    const secrets = await openSecrets(panel);
    const name = secrets.getByLabel('Name', { exact: true });
    await name.fill('MY-KEY');
    await secrets.getByLabel('Value', { exact: true }).fill('x');
    await expect(name).toHaveAttribute('aria-invalid', 'true');
    await expect(secrets.locator('.jp-Cookbook-reason')).toContainText(
      'letters, digits or underscores'
    );
    await expect(
      secrets.getByRole('button', { name: 'Save', exact: true })
    ).toBeDisabled();
  });
});
