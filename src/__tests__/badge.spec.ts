import { nullTranslator } from '@jupyterlab/translation';

import { badgeDate, cellBadge } from '../badge';
import { lineDiff } from '../diff';

const trans = nullTranslator.load('cookbook_ext');
const GEN = 'f00f82171'.padEnd(32, '0');
// 13:46 local time, whatever the machine's zone.
const AT = new Date(2026, 0, 5, 13, 46).getTime() / 1000;

describe('a cell badge', () => {
  it('says the run and the repository snippet it came from', () => {
    const badge = cellBadge(trans, {
      cookbook: {
        generation_id: GEN,
        cell_id: 'c3',
        origin: 'repository',
        origin_detail: 'README.md § Usage',
        generated_at: AT
      }
    })!;
    expect(badge.text).toBe('Cookbook · run 13:46 · from README.md § Usage');
    expect(badge.tooltip).toContain(
      'Code taken from the repository: README.md § Usage.'
    );
    expect(badge.tooltip).toContain('Generation f00f8217');
    expect(badge.generationId).toBe(GEN);
  });

  it('says which model wrote it', () => {
    const badge = cellBadge(trans, {
      cookbook: {
        generation_id: GEN,
        cell_id: 'c1',
        origin: 'model',
        provider: 'anthropic',
        model: 'claude-sonnet-4',
        generated_at: new Date(AT * 1000).toISOString()
      }
    })!;
    expect(badge.text).toBe(
      'Cookbook · run 13:46 · written by claude-sonnet-4'
    );
    expect(badge.tooltip).toContain(
      'Written by the model claude-sonnet-4 (anthropic).'
    );
  });

  it('names the README section or example a snippet came from', () => {
    const at = (origin: string, detail: string) =>
      cellBadge(trans, {
        cookbook: {
          generation_id: GEN,
          cell_id: 'c1',
          origin,
          origin_detail: detail
        }
      })!;
    expect(at('readme', 'README.md § Usage').text).toBe(
      'Cookbook · from README.md § Usage'
    );
    expect(at('example', 'examples/score.py').origin).toBe('repository');
    expect(at('model_card', 'acme/tiny model card').text).toBe(
      'Cookbook · from acme/tiny model card'
    );
    expect(at('cookbook', 'install the requirements').text).toBe(
      'Cookbook · setup'
    );
    // The server's "written by ..." detail is not repeated.
    const written = cellBadge(trans, {
      cookbook: {
        generation_id: GEN,
        cell_id: 'c1',
        origin: 'model',
        origin_detail: 'written by claude-x',
        model: 'claude-x'
      }
    })!;
    expect(written.text).toBe('Cookbook · written by claude-x');
    expect(written.tooltip).not.toContain('Based on');
  });

  it('marks outputs inserted again as the original run’s', () => {
    const badge = cellBadge(trans, {
      cookbook: {
        generation_id: GEN,
        cell_id: 'c1',
        origin: 'model_card',
        generated_at: AT,
        outputs_from: { generation_id: GEN, generated_at: AT }
      }
    })!;
    expect(badge.text).toBe(
      'Cookbook · run 13:46 · from the model card · outputs of that run'
    );
  });

  it('is there for older cells with only the tag, and not for others', () => {
    expect(
      cellBadge(trans, { cookbook: { generation_id: GEN, cell_id: 'c1' } })!
        .text
    ).toBe('Cookbook');
    expect(cellBadge(trans, {})).toBeNull();
    expect(cellBadge(trans, { cookbook: { cell_id: 'c1' } })).toBeNull();
  });

  it('reads epoch seconds, milliseconds and ISO dates', () => {
    expect(badgeDate(AT)!.getTime()).toBe(AT * 1000);
    expect(badgeDate(AT * 1000)!.getTime()).toBe(AT * 1000);
    expect(badgeDate(String(AT))!.getTime()).toBe(AT * 1000);
    expect(badgeDate('not a date')).toBeNull();
  });
});

describe('lineDiff', () => {
  it('keeps the common lines and marks what went and came', () => {
    expect(lineDiff('a\nb\nc', 'a\nB\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'B' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' }
    ]);
    expect(lineDiff('x', 'x')).toEqual([{ kind: 'same', text: 'x' }]);
  });
});
