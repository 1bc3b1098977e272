/**
 * Galata / Playwright configuration for the Cookbook end-to-end tests.
 *
 * Browsers cannot be downloaded on this machine, so the tests drive Debian's
 * Chromium (`apt-get install chromium`) through `executablePath`.
 */
import { defineConfig } from '@playwright/test';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = Number(process.env.COOKBOOK_UI_PORT ?? 18888);
const BASE_URL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  ...baseConfig,
  timeout: 120_000,
  expect: { timeout: 20_000, toHaveScreenshot: { maxDiffPixelRatio: 0.02 } },
  // One JupyterLab server is shared by every test: keep them serial.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: BASE_URL,
    // Playwright's video needs its own ffmpeg download, which is unavailable.
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: 'jupyter lab --config jupyter_server_test_config.py',
    url: `${BASE_URL}/lab`,
    timeout: 120_000,
    reuseExistingServer: !process.env.CI,
    env: { ...process.env, COOKBOOK_UI_PORT: String(PORT) } as Record<
      string,
      string
    >
  }
});
