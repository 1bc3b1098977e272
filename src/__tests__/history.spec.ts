import type { IGeneration } from '../api';
import {
  cellsCount,
  historyPrompt,
  historyRepo,
  historyRecipeHash,
  historyTemplate,
  historyThreads
} from '../history';

function gen(
  id: string,
  created: number,
  extra: Partial<IGeneration> = {}
): IGeneration {
  return { id, status: 'finished', created_at: created, ...extra };
}

describe('the history', () => {
  it('lists threads newest first, each follow-up under what it continues', () => {
    const items = [
      gen('old', 1),
      gen('root', 2),
      gen('child2', 6, { parent_id: 'root' }),
      gen('child1', 4, { parent_id: 'root' }),
      gen('grand', 5, { parent_id: 'child1' }),
      gen('new', 3)
    ];
    expect(historyThreads(items).map(e => [e.generation.id, e.depth])).toEqual([
      ['root', 0],
      ['child1', 1],
      ['grand', 2],
      ['child2', 1],
      ['new', 0],
      ['old', 0]
    ]);
  });

  it('lists a follow-up whose parent is not listed at the top level, and survives a cycle', () => {
    const items = [
      gen('orphan', 2, { parent_id: 'gone' }),
      gen('x', 1, { parent_id: 'y' }),
      gen('y', 1, { parent_id: 'x' })
    ];
    expect(
      historyThreads(items)
        .map(e => e.generation.id)
        .sort()
    ).toEqual(['orphan', 'x', 'y']);
  });

  it('tells entries apart by repository, recipe, prompt and cells', () => {
    const g = gen('abcdef123456', 1, {
      request: {
        prompt: ' Score reviews ',
        template: 'quickstart',
        source: 'https://github.com/o/tiny-sentiment.git'
      },
      cells_count: 0
    });
    expect(historyPrompt(g)).toBe('Score reviews');
    expect(historyRepo(g)).toBe('tiny-sentiment');
    expect(historyTemplate(g)).toBe('quickstart');
    // The version that made it, from the server's record or the pinned request.
    expect(
      historyTemplate({
        ...g,
        recipe: { id: 'quickstart', version: '1.2.0', sha256: 'ab12' }
      })
    ).toBe('quickstart 1.2.0');
    expect(
      historyTemplate({
        ...g,
        request: { ...g.request, template_version: '1.0.0' }
      })
    ).toBe('quickstart 1.0.0');
    expect(
      historyRecipeHash({
        ...g,
        recipe: { id: 'q', version: '1.0.0', sha256: 'ab12' }
      })
    ).toBe('ab12');
    expect(historyRecipeHash(g)).toBe('');
    expect(cellsCount(g)).toBe(0);
    expect(historyRepo({ ...g, repo_name: 'named' })).toBe('named');
    expect(historyPrompt(gen('abcdef123456', 1))).toBe('abcdef12');
    expect(cellsCount(gen('a', 1, { cells: [{} as any, {} as any] }))).toBe(2);
  });
});
