import { nullTranslator } from '@jupyterlab/translation';

import type { ICookbookEvent } from '../api';
import { approvalSummary } from '../alerts';
import {
  nextStepsFor,
  outcomeSentence,
  verificationText
} from '../panel/Outcome';
import { progressSummary, stepText } from '../panel/ProgressSection';
import { deriveTitle, initialProgress, reduceAll } from '../progress';

const trans = nullTranslator.load('cookbook_ext');

function events(...list: Array<[string, any]>): ICookbookEvent[] {
  return list.map(([type, data], i) => ({
    seq: i + 1,
    type,
    data,
    ts: 100 + i
  }));
}

describe('the offline provider’s progress', () => {
  const offline = reduceAll(
    initialProgress(),
    events(
      ['started', { provider: 'offline', model: null, uses_model: false }],
      ['status', { phase: 'model', message: 'Waiting for the model (turn 1)' }],
      [
        'cell_created',
        {
          cell_id: 'c3',
          cell_type: 'code',
          source: 'm = load()',
          title: 'Load the model'
        }
      ],
      ['cell_executed', { cell_id: 'c3', ok: true, duration_ms: 300 }]
    )
  );

  it('speaks of examples and snippets, not of a model', () => {
    expect(offline.usesModel).toBe(false);
    const texts = offline.steps.map(s => stepText(trans, s, offline.usesModel));
    expect(texts[0]).toContain('examples');
    expect(texts.join('\n')).not.toMatch(/model \(turn|Waiting for the model/);
    expect(texts[1]).toBe('Choosing the next example or snippet');
  });

  it('names cells by what they do', () => {
    const texts = offline.steps.map(s => stepText(trans, s, false));
    expect(texts).toContain('Wrote “Load the model”');
    expect(texts).toContain('Ran “Load the model” in 0.3 s');
    expect(texts.join(' ')).not.toContain('c3');
  });

  it('finds a title in the cell itself when the server sends none', () => {
    expect(deriveTitle('# Load the model\nm = load()', 'code')).toBe(
      'Load the model'
    );
    expect(deriveTitle('## Setup *now*', 'markdown')).toBe('Setup now');
    expect(deriveTitle('print(1)', 'code')).toBe('');
    expect(deriveTitle('#!/usr/bin/env python', 'code')).toBe('');
    expect(deriveTitle('# %%', 'code')).toBe('');
  });
});

describe('the end of a run', () => {
  it('states the cause of a failure and offers its next steps', () => {
    const p = reduceAll(
      initialProgress(),
      events([
        'failed',
        {
          message: 'Nothing runnable was found.',
          cause: 'torch is not installed and two installs were declined.',
          next_steps: [
            {
              action: 'install_and_retry',
              label: 'Install torch and retry',
              packages: ['torch']
            },
            { action: 'bogus' },
            { action: 'show_attempts', label: 'Show the failed attempts' }
          ]
        }
      ])
    );
    expect(outcomeSentence(trans, p)).toBe(
      'torch is not installed and two installs were declined.'
    );
    expect(nextStepsFor(trans, p, [])).toEqual([
      {
        action: 'install_and_retry',
        label: 'Install torch and retry',
        packages: ['torch']
      },
      { action: 'show_attempts', label: 'Show the failed attempts' }
    ]);
  });

  it('explains an empty run and suggests a model provider when one is set up', () => {
    const p = reduceAll(
      initialProgress(),
      events(
        ['started', { provider: 'offline', uses_model: false }],
        [
          'cell_executed',
          {
            cell_id: 'c1',
            ok: false,
            error: { ename: 'ImportError', evalue: 'torch' }
          }
        ],
        ['finished', {}]
      )
    );
    expect(outcomeSentence(trans, p)).toBe(
      'No cell ran cleanly (1 attempt failed), so nothing was added to the notebook.'
    );
    const providers = [
      { name: 'offline', available: true, uses_model: false },
      { name: 'anthropic', available: true, uses_model: true }
    ];
    expect(nextStepsFor(trans, p, providers).map(s => s.action)).toEqual([
      'show_attempts',
      'try_provider'
    ]);
    expect(nextStepsFor(trans, p, providers)[1].provider).toBe('anthropic');
    // A run that kept cells needs none of this.
    const fine = reduceAll(
      initialProgress(),
      events(
        ['cell_validated', { cell_id: 'c1', index: 0, cell: {} }],
        ['finished', {}]
      )
    );
    expect(outcomeSentence(trans, fine)).toBeNull();
    expect(nextStepsFor(trans, fine, providers)).toEqual([]);
  });

  it('says whether it re-runs cleanly in a fresh kernel', () => {
    const passed = reduceAll(
      initialProgress(),
      events(['verified', { status: 'passed', seconds: 2.14 }])
    );
    expect(verificationText(trans, passed.verification!, () => undefined)).toBe(
      'Re-runs cleanly in a fresh kernel (2.1s).'
    );
    const failed = reduceAll(
      initialProgress(),
      events(
        [
          'cell_created',
          { cell_id: 'c2', source: '# Load the data\nx', cell_type: 'code' }
        ],
        [
          'verified',
          {
            status: 'failed',
            cell_id: 'c2',
            failed_cell: 1,
            error: { ename: 'NameError', evalue: "name 'x' is not defined" },
            seconds: 1
          }
        ]
      )
    );
    expect(
      verificationText(trans, failed.verification!, id => failed.cellTitles[id])
    ).toBe(
      "Does not re-run in a fresh kernel: “Load the data” fails with NameError: name 'x' is not defined."
    );
    const skipped = reduceAll(
      initialProgress(),
      events(['verified', { status: 'skipped', reason: 'no kernelspec' }])
    );
    expect(
      verificationText(trans, skipped.verification!, () => undefined)
    ).toBe('Not re-run in a fresh kernel: no kernelspec');
  });

  it('sums up for a screen reader at milestones, naming a waiting question', () => {
    const p = reduceAll(
      initialProgress(),
      events(
        ['cell_validated', { cell_id: 'c1', index: 0, cell: {} }],
        [
          'approval_required',
          {
            approval_id: 'a1',
            cell_id: 'c2',
            title: 'Install torch',
            reasons: []
          }
        ]
      )
    );
    expect(progressSummary(trans, p)).toBe(
      'Running: 1 cell kept. Run “Install torch” in your kernel?'
    );
  });
});

describe('a follow-up’s replacements', () => {
  it('are remembered per cell, and forgotten when withdrawn', () => {
    let p = reduceAll(
      initialProgress(),
      events([
        'cell_validated',
        {
          cell_id: 'f1',
          index: 0,
          cell: {},
          replaces: 'nb-2',
          replaces_edited: true
        }
      ])
    );
    expect(p.replacements).toEqual({ f1: { target: 'nb-2', edited: true } });
    p = reduceAll(p, [
      { seq: 2, type: 'cell_invalidated', data: { cell_id: 'f1' }, ts: 1 }
    ]);
    expect(p.replacements).toEqual({});
  });
});

describe('an approval notification', () => {
  it('names the cell, the notebook and exactly what will happen', () => {
    expect(
      approvalSummary(
        trans,
        {
          approvalId: 'a',
          cellId: 'c1',
          title: 'Install the requirements',
          source: '',
          reasons: ['installs packages'],
          details: ['pip install torch==2.3.1 triton'],
          origin: 'repository',
          untrusted: true,
          repo: null
        },
        'whisper.ipynb'
      )
    ).toBe(
      'Cookbook asks to run “Install the requirements” in whisper.ipynb.\npip install torch==2.3.1 triton'
    );
  });
});
