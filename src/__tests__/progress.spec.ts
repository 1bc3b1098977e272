import type { ICookbookEvent } from '../api';
import {
  initialProgress,
  reduceAll,
  reduceProgress,
  totalTokens
} from '../progress';
import {
  describeDependencies,
  describeWarnings,
  formatCost,
  formatDuration
} from '../panel/format';

let seq = 0;
function ev(type: string, data: any = {}, ts = 100 + seq): ICookbookEvent {
  seq++;
  return { seq, type, data, ts };
}

beforeEach(() => {
  seq = 0;
});

describe('reduceProgress', () => {
  it('lists files read, cells written, runs with their short errors, and fixes', () => {
    const state = reduceAll(initialProgress(), [
      ev('started', { provider: 'anthropic', model: 'claude' }),
      ev('tool_call', {
        id: 't1',
        name: 'read_file_from_repo',
        arguments: { path: 'README.md' }
      }),
      ev('cell_created', {
        cell_id: 'c1',
        cell_type: 'code',
        source: 'import x\nx.run()'
      }),
      ev('cell_progress', { cell_id: 'c1', elapsed: 2.4 }),
      ev('cell_executed', {
        cell_id: 'c1',
        ok: false,
        short_error: 'ModuleNotFoundError: x'
      }),
      ev('tool_call', {
        id: 't2',
        name: 'edit_cell',
        arguments: { cell_id: 'c1', code: 'import y' }
      }),
      ev('cell_executed', { cell_id: 'c1', ok: true, duration_ms: 1200 }),
      ev('cell_validated', { cell_id: 'c1', index: 0, cell: {} })
    ]);
    expect(state.status).toBe('running');
    expect(state.provider).toBe('anthropic');
    expect(state.steps.map(s => s.msg)).toEqual([
      'started',
      'read',
      'wroteCode',
      'cellFailed',
      'fixed',
      'ran',
      'validated'
    ]);
    expect(state.steps[3].detail).toBe('ModuleNotFoundError: x');
    expect(state.steps[2].detail).toBe('import x');
    expect(state).toMatchObject({
      filesRead: 1,
      cellsWritten: 1,
      cellsRun: 2,
      errors: 1,
      fixes: 1
    });
    expect(state.validatedCells).toEqual(['c1']);
  });

  it('shows a running cell as one line that the outcome replaces', () => {
    const state = reduceAll(initialProgress(), [
      ev('cell_progress', { cell_id: 'c1', elapsed: 1 }),
      ev('cell_progress', { cell_id: 'c1', elapsed: 2 })
    ]);
    expect(state.steps).toHaveLength(1);
    expect(state.steps[0].args).toEqual(['c1', 2]);
    const done = reduceProgress(
      state,
      ev('cell_executed', { cell_id: 'c1', ok: true, duration_ms: 10 })
    );
    expect(done.steps.map(s => s.msg)).toEqual(['ran']);
  });

  it('keeps tokens and cost from usage events', () => {
    const state = reduceAll(initialProgress(), [
      ev('usage', {
        input_tokens: 1000,
        output_tokens: 200,
        cache_read_tokens: 50,
        cost_usd: 0.012
      })
    ]);
    expect(totalTokens(state.usage)).toBe(1250);
    expect(state.usage.cost_usd).toBe(0.012);
  });

  it('ends with the terminal event and its timing', () => {
    const state = reduceAll(initialProgress(), [
      ev('started', {}, 10),
      ev('cell_validated', { cell_id: 'c1' }, 11),
      ev('cell_validated', { cell_id: 'c2' }, 12),
      ev('cell_invalidated', { cell_id: 'c2' }, 13),
      ev('finished', { usage: { input_tokens: 5 } }, 20)
    ]);
    expect(state.status).toBe('finished');
    expect(state.finishedAt! - state.startedAt!).toBe(10);
    expect(state.steps[state.steps.length - 1].args).toEqual([1]);
  });

  it('shows why a generation failed', () => {
    const state = reduceProgress(
      initialProgress(),
      ev('failed', { code: 'x', message: 'No API key' })
    );
    expect(state.status).toBe('failed');
    expect(state.message).toBe('No API key');
  });

  it('ignores events it already applied, so a replay changes nothing', () => {
    const events = [ev('started'), ev('cell_created', { cell_id: 'c1' })];
    const once = reduceAll(initialProgress(), events);
    expect(reduceAll(once, events)).toBe(once);
  });

  it('collapses a run of status lines into the latest', () => {
    const state = reduceAll(initialProgress(), [
      ev('status', { message: 'Waiting for the model (turn 1)' }),
      ev('status', { message: 'Waiting for the model (turn 2)' })
    ]);
    expect(state.steps).toHaveLength(1);
    expect(state.steps[0].args).toEqual(['Waiting for the model (turn 2)']);
  });

  const asked = () =>
    ev('approval_required', {
      approval_id: 'a1',
      cell_id: 'c2',
      source: '!pip install x',
      reasons: ['installs packages']
    });

  it('shows an approval with its reasons until it is resolved', () => {
    const state = reduceAll(initialProgress(), [
      asked(),
      ev('status', { message: 'Waiting for your approval to run c2' }),
      // Other tools may report meanwhile: the approval stays until resolved.
      ev('tool_result', { id: 't9', name: 'search_repo', ok: true }),
      ev('cell_progress', { cell_id: 'c2', elapsed: 1 })
    ]);
    expect(state.approvals).toEqual([
      {
        approvalId: 'a1',
        cellId: 'c2',
        source: '!pip install x',
        reasons: ['installs packages'],
        details: [],
        origin: 'model',
        untrusted: false,
        repo: null
      }
    ]);
  });

  it('names exactly what an approval will do', () => {
    const state = reduceAll(initialProgress(), [
      ev('approval_required', {
        approval_id: 'a1',
        cell_id: 'c2',
        source: '%pip install -q torch==2.1 transformers',
        reasons: ['installs packages'],
        details: ['installs torch==2.1, transformers']
      })
    ]);
    expect(state.approvals[0].details).toEqual([
      'installs torch==2.1, transformers'
    ]);
  });

  it('says when the code comes from an untrusted repository, and which', () => {
    const state = reduceAll(initialProgress(), [
      ev('approval_required', {
        approval_id: 'a1',
        cell_id: 'c3',
        source: 'print("hello from the repo")',
        reasons: ['code from an untrusted repository'],
        origin: 'repository',
        untrusted: true,
        repo: { id: 'r1', label: 'https://github.com/o/r' }
      })
    ]);
    expect(state.approvals[0]).toMatchObject({
      origin: 'repository',
      untrusted: true,
      repo: { id: 'r1', label: 'https://github.com/o/r' }
    });
  });

  it('keeps model card code apart from repository code', () => {
    const state = reduceAll(initialProgress(), [
      ev('approval_required', {
        approval_id: 'a1',
        cell_id: 'c1',
        source: 'pipeline("x")',
        reasons: ['code from an untrusted model card'],
        origin: 'model_card',
        untrusted: true,
        repo: { id: 'r1', label: '' }
      })
    ]);
    // A repository without a label is named by its id.
    expect(state.approvals[0]).toMatchObject({
      origin: 'model_card',
      untrusted: true,
      repo: { id: 'r1', label: 'r1' }
    });
  });

  it('offers no repository to trust for trusted or model-written code', () => {
    const state = reduceAll(initialProgress(), [
      ev('approval_required', {
        approval_id: 'a1',
        cell_id: 'c1',
        source: '!pip install x',
        reasons: ['installs packages'],
        origin: 'repository',
        untrusted: false,
        repo: { id: 'r1', label: 'o/r' }
      }),
      ev('approval_required', {
        approval_id: 'a2',
        cell_id: 'c2',
        source: 'x = 1',
        reasons: ['always asks'],
        origin: 'somewhere else',
        untrusted: 'yes',
        repo: 'r1'
      })
    ]);
    expect(state.approvals.map(a => [a.origin, a.untrusted, a.repo])).toEqual([
      ['repository', false, null],
      ['model', false, null]
    ]);
  });

  it('shows an approval floor warning like any other warning', () => {
    const state = reduceAll(initialProgress(), [
      ev('warning', {
        code: 'approval_floor',
        message:
          "Approval 'never' was asked for, but this server's administrator requires at least 'risky'.",
        requested: 'never',
        approval: 'risky'
      })
    ]);
    expect(state.steps).toHaveLength(1);
    expect(state.steps[0]).toMatchObject({ kind: 'warning', msg: 'warning' });
    expect(String(state.steps[0].args[0])).toContain('requires at least');
  });

  it('settles exactly the approval the server resolved', () => {
    const state = reduceAll(initialProgress(), [
      asked(),
      ev('approval_required', {
        approval_id: 'a2',
        cell_id: 'c2',
        source: '!pip install y',
        reasons: ['installs packages']
      }),
      ev('approval_resolved', {
        approval_id: 'a1',
        cell_id: 'c2',
        approved: true
      })
    ]);
    expect(state.approvals.map(a => a.approvalId)).toEqual(['a2']);
  });

  it('turns the approval step into its answer instead of adding one', () => {
    const before = reduceAll(initialProgress(), [asked()]);
    const approved = reduceProgress(
      before,
      ev('approval_resolved', {
        approval_id: 'a1',
        cell_id: 'c2',
        approved: true
      })
    );
    expect(approved.steps).toHaveLength(before.steps.length);
    expect(approved.steps[0]).toMatchObject({
      kind: 'ok',
      msg: 'approved',
      args: ['c2'],
      detail: 'installs packages'
    });
    const declined = reduceProgress(
      before,
      ev('approval_resolved', {
        approval_id: 'a1',
        cell_id: 'c2',
        approved: false
      })
    );
    expect(declined.approvals).toEqual([]);
    expect(declined.steps[0]).toMatchObject({
      kind: 'warning',
      msg: 'declined'
    });
  });

  it('drops approvals still open when the generation ends', () => {
    const state = reduceAll(initialProgress(), [
      asked(),
      ev('cancelled', { message: 'stopped' })
    ]);
    expect(state.approvals).toEqual([]);
  });

  it('survives unexpected payloads', () => {
    const state = reduceAll(initialProgress(), [
      ev('tool_call', null),
      ev('cell_executed', {}),
      ev('something_new', { x: 1 })
    ]);
    expect(state.lastSeq).toBe(3);
  });
});

describe('format helpers', () => {
  it('flattens the ingester dependency shape', () => {
    expect(
      describeDependencies({
        python: '>=3.9',
        packages: [
          { name: 'numpy', spec: '>=1.20', source: 'requirements.txt' },
          { name: 'torch' }
        ],
        files: ['requirements.txt']
      })
    ).toEqual(['python >=3.9', 'numpy >=1.20', 'torch']);
    expect(describeDependencies(['a', { name: 'b', version: '1' }])).toEqual([
      'a',
      'b 1'
    ]);
    expect(describeDependencies(null)).toEqual([]);
  });

  it('reads warnings as strings or {message}', () => {
    expect(describeWarnings(['a', { message: 'b' }])).toEqual(['a', 'b']);
  });

  it('formats durations and costs', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3725)).toBe('1h 02m');
    expect(formatCost(0.0021)).toBe('$0.0021');
    expect(formatCost(1.5)).toBe('$1.50');
    expect(formatCost(undefined)).toBe('–');
  });
});
