import type { IComparison, IComparisonRun } from '../api';
import { CookbookModel } from '../model';
import { bestRun, comparisonDone } from '../panel/CompareSection';

function run(index: number, extra: Partial<IComparisonRun>): IComparisonRun {
  return {
    index,
    provider: `p${index}`,
    generation_id: `g${index}`,
    status: 'finished',
    cells_count: 0,
    ...extra
  };
}

describe('a comparison', () => {
  it('is done when every run has ended', () => {
    const c: IComparison = {
      id: 'c',
      status: 'running',
      created_at: 0,
      runs: [run(0, {}), run(1, { status: 'running' })]
    };
    expect(comparisonDone(c)).toBe(false);
    c.runs[1].status = 'failed';
    expect(comparisonDone(c)).toBe(true);
  });

  it('names the best run: re-runs cleanly first, then more cells, then sooner', () => {
    const c: IComparison = {
      id: 'c',
      status: 'finished',
      created_at: 0,
      runs: [
        run(0, { cells_count: 9, seconds_to_notebook: 5 }),
        run(1, {
          cells_count: 4,
          seconds_to_notebook: 9,
          verification: { status: 'passed' }
        }),
        run(2, {
          cells_count: 4,
          seconds_to_notebook: 3,
          verification: { status: 'passed' }
        }),
        run(3, { cells_count: 0 })
      ]
    };
    expect(bestRun(c)!.index).toBe(2);
    expect(bestRun({ ...c, runs: [run(0, {})] })).toBeNull();
  });

  it('is started with the runs naming the provider, never the kernel', async () => {
    const sent: any[] = [];
    const model = new CookbookModel({
      api: {
        startComparison: async (body: any) => {
          sent.push(body);
          return { id: 'c1' };
        }
      } as any,
      notebooks: {
        find: () => null,
        current: () => null,
        opened: { connect: () => true },
        closed: { connect: () => true },
        renamed: { connect: () => true },
        currentChanged: { connect: () => true }
      } as any,
      storage: null
    });
    await model.startComparison(
      {
        repo_id: 'r',
        prompt: 'p',
        template: 'quickstart',
        complexity: 'basic',
        provider: 'offline',
        model: 'x',
        keep_secrets: true,
        secrets: []
      },
      [{ provider: 'offline' }, { provider: 'anthropic', model: 'claude-x' }]
    );
    expect(sent).toEqual([
      {
        repo_id: 'r',
        prompt: 'p',
        template: 'quickstart',
        complexity: 'basic',
        secrets: [],
        runs: [
          { provider: 'offline' },
          { provider: 'anthropic', model: 'claude-x' }
        ]
      }
    ]);
    model.dispose();
  });
});
