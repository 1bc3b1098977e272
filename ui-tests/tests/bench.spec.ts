/**
 * Benchmarks (run alone: `npx playwright test --grep @bench`).
 *
 * 1. Insertion latency: from the server emitting `cell_validated` (the
 *    event's `ts`, epoch seconds) to the cell being in the notebook's shared
 *    model, over a generation of 30 cells. Target: p95 < 150 ms.
 * 2. JupyterLab's load time (navigation start to `app.restored`) with and
 *    without the extension, interleaved in the same run. Target: < 5 %
 *    slower. "Without" removes the extension from the page config, so its
 *    code is never fetched.
 *
 * Browser and server run on the same machine, so their clocks agree.
 * Prints one JSON line with the figures.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Browser, Route } from '@playwright/test';

import {
  generate,
  ingestFixture,
  inTmp,
  openCookbook,
  waitForStatus
} from './helpers';

const CELLS = 30;
/** Above this run-to-run spread of load times (IQR / median, %), 5 % cannot be judged. */
const MAX_NOISE_PCT = 15;
const LOAD_RUNS = Number(process.env.COOKBOOK_BENCH_LOAD_RUNS ?? 15);
const results: Record<string, unknown> = { bench: 'cookbook-ext' };

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(
    sorted.length - 1,
    Math.ceil((p / 100) * sorted.length) - 1
  );
  return sorted[Math.max(0, rank)];
}

function median(values: number[]): number {
  return percentile(values, 50);
}

const round = (x: number) => Math.round(x * 10) / 10;

// Tracing records snapshots on every change: it would be measured too.
test.use({ trace: 'off' });

test.describe('@bench Cookbook benchmarks', () => {
  test.describe.configure({ mode: 'serial' });

  test.afterAll(() => {
    // One line, easy to grep from CI logs.
    console.log(JSON.stringify(results));
  });

  test('@bench cell insertion latency over a 30-cell generation', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180_000);
    await page.notebook.createNew('bench.ipynb');
    const path = inTmp(tmpPath, 'bench.ipynb');
    const panel = await openCookbook(page);
    await ingestFixture(panel);

    // Record when each Cookbook cell first shows up in the shared model.
    await page.evaluate(async p => {
      const cookbook = await (window as any).galata.getPlugin(
        'cookbook-ext:core'
      );
      const handle = cookbook.notebooks.find(p);
      const seen: Record<string, number> = {};
      (window as any).__cookbookSeen = seen;
      const scan = () => {
        const now = performance.timeOrigin + performance.now();
        for (const cell of handle.shared.cells) {
          const tag = cell.getMetadata()?.cookbook;
          if (tag && seen[tag.cell_id] === undefined) {
            seen[tag.cell_id] = now;
          }
        }
      };
      handle.shared.changed.connect(scan);
      const longTasks: number[] = [];
      (window as any).__cookbookLongTasks = longTasks;
      new PerformanceObserver(list => {
        for (const entry of list.getEntries()) {
          longTasks.push(entry.duration);
        }
      }).observe({ entryTypes: ['longtask'] });
    }, path);

    const id = await generate(panel, `[scripted cells=${CELLS} delay=0.05]`);
    await waitForStatus(panel, 'finished', 150_000);

    const seen: Record<string, number> = await page.evaluate(
      () => (window as any).__cookbookSeen
    );
    const response = await page.request.get(
      `/cookbook/generations/${id}/events?after=0&timeout=0`
    );
    const { events } = await response.json();
    const emitted: Record<string, number> = {};
    for (const e of events) {
      if (
        e.type === 'cell_validated' &&
        emitted[e.data.cell_id] === undefined
      ) {
        emitted[e.data.cell_id] = e.ts * 1000;
      }
    }
    const latencies = Object.keys(emitted)
      .filter(cellId => seen[cellId] !== undefined)
      .map(cellId => seen[cellId] - emitted[cellId]);
    expect(latencies.length).toBeGreaterThanOrEqual(CELLS);
    results.insert_latency_ms = {
      n: latencies.length,
      p50: round(median(latencies)),
      p95: round(percentile(latencies, 95)),
      max: round(Math.max(...latencies)),
      target_p95: 150
    };
    // Where the time goes: server + network (emitted → received) and the
    // client (received → in the model), from the model's own timings.
    const metrics: Array<{
      ts: number;
      receivedAt: number;
      insertedAt: number;
    }> = await page.evaluate(async gid => {
      const cookbook = await (window as any).galata.getPlugin(
        'cookbook-ext:core'
      );
      return cookbook.insertionMetrics.filter(
        (m: any) => m.generationId === gid
      );
    }, id);
    results.insert_breakdown_ms = {
      server_network_p95: round(
        percentile(
          metrics.map(m => m.receivedAt - m.ts * 1000),
          95
        )
      ),
      client_p95: round(
        percentile(
          metrics.map(m => m.insertedAt - m.receivedAt),
          95
        )
      )
    };
    const longTasks: number[] = await page.evaluate(
      () => (window as any).__cookbookLongTasks
    );
    results.main_thread_long_tasks = {
      count: longTasks.length,
      total_ms: round(longTasks.reduce((x, y) => x + y, 0)),
      max_ms: round(Math.max(0, ...longTasks))
    };
    expect(percentile(latencies, 95)).toBeLessThan(150);
  });

  test('@bench JupyterLab load time with and without the extension', async ({
    browser,
    baseURL
  }) => {
    test.setTimeout(300_000);
    const url = `${baseURL}/lab`;
    const loadOnce = async (
      b: Browser,
      withExtension: boolean
    ): Promise<number> => {
      const context = await b.newContext();
      const page = await context.newPage();
      await page.route(/\/lab(\?.*)?$/, async (route: Route) => {
        const response = await route.fetch();
        let body = await response.text();
        if (!withExtension) {
          body = body.replace(
            /(<script id="jupyter-config-data" type="application\/json">)([\s\S]*?)(<\/script>)/,
            (_, open, json, close) => {
              const config = JSON.parse(json);
              config.federated_extensions = (
                config.federated_extensions ?? []
              ).filter((e: { name: string }) => e.name !== 'cookbook-ext');
              return `${open}${JSON.stringify(config)}${close}`;
            }
          );
        }
        await route.fulfill({ response, body });
      });
      await page.addInitScript(() => {
        const poll = () => {
          const app = (window as any).jupyterapp;
          if (app?.restored) {
            app.restored.then(() => {
              (window as any).__restoredAt = performance.now();
            });
          } else {
            setTimeout(poll, 2);
          }
        };
        poll();
      });
      await page.goto(url);
      const restoredAt = await page.waitForFunction(
        () => (window as any).__restoredAt,
        null,
        {
          timeout: 60_000
        }
      );
      const ms = (await restoredAt.jsonValue()) as number;
      const loaded = await page.evaluate(() =>
        (window as any).jupyterapp.hasPlugin('cookbook-ext:core')
      );
      expect(loaded).toBe(withExtension);
      await context.close();
      return ms;
    };

    // Warm the server's and the browser's caches for both variants first.
    await loadOnce(browser, true);
    await loadOnce(browser, false);
    const withExt: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < LOAD_RUNS; i++) {
      // Alternate the order so drift affects both variants alike.
      if (i % 2 === 0) {
        withExt.push(await loadOnce(browser, true));
        without.push(await loadOnce(browser, false));
      } else {
        without.push(await loadOnce(browser, false));
        withExt.push(await loadOnce(browser, true));
      }
    }
    // Each pair ran back to back, so its difference cancels most of the
    // machine's background load; the median of the differences is the
    // extension's cost. The minima (best case of each variant) cross-check it.
    const diffs = withExt.map((w, i) => w - without[i]);
    // Spread of the baseline: interquartile range relative to the median.
    const noise =
      ((percentile(without, 75) - percentile(without, 25)) / median(without)) *
      100;
    const base = median(without);
    const overhead = (median(diffs) / base) * 100;
    const minOverhead =
      ((Math.min(...withExt) - Math.min(...without)) / Math.min(...without)) *
      100;
    results.load_ms = {
      runs: LOAD_RUNS,
      with_median: round(median(withExt)),
      without_median: round(base),
      paired_diff_median: round(median(diffs)),
      overhead_pct: round(overhead),
      overhead_pct_of_minima: round(minOverhead),
      target_overhead_pct: 5,
      noise_pct: round(noise),
      with: withExt.map(round),
      without: without.map(round)
    };
    if (noise > MAX_NOISE_PCT) {
      // Run-to-run spread far above the 5 % being judged (a loaded machine):
      // report the figures, but a verdict would be a coin toss.
      results.load_verdict = 'too noisy to judge';
      test.info().annotations.push({
        type: 'warning',
        description: `load times vary by ${round(noise)} % between runs; overhead not judged`
      });
      return;
    }
    results.load_verdict = overhead < 5 ? 'pass' : 'fail';
    expect(overhead).toBeLessThan(5);
  });
});
