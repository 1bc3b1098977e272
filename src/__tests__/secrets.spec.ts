import {
  initialSecrets,
  isStored,
  isValidSecretName,
  ISecretsState,
  reduceSecrets,
  SecretsAction,
  SUGGESTED_SECRET_NAMES
} from '../secrets';

function run(...actions: SecretsAction[]): ISecretsState {
  return actions.reduce(reduceSecrets, initialSecrets());
}

describe('secret names', () => {
  it('accepts the names the server accepts', () => {
    for (const name of [
      ...SUGGESTED_SECRET_NAMES,
      '_x',
      'a1',
      'A'.repeat(128)
    ]) {
      expect(isValidSecretName(name)).toBe(true);
    }
  });

  it('refuses the names the server refuses', () => {
    for (const name of [
      '',
      '1ABC',
      'MY-KEY',
      'MY KEY',
      'a.b',
      '../status',
      'A'.repeat(129)
    ]) {
      expect(isValidSecretName(name)).toBe(false);
    }
  });

  it('suggests the well-known provider, Hub and GitHub names', () => {
    expect(SUGGESTED_SECRET_NAMES).toEqual([
      'ANTHROPIC_API_KEY',
      'OPENAI_API_KEY',
      'HF_TOKEN',
      'GITHUB_TOKEN'
    ]);
  });
});

describe('reduceSecrets', () => {
  it('starts unloaded', () => {
    expect(initialSecrets().items).toBeNull();
  });

  it('keeps the list sorted by name', () => {
    const state = run({
      type: 'loaded',
      secrets: [
        { name: 'OPENAI_API_KEY', hint: '…b', updated_at: 2 },
        { name: 'HF_TOKEN', hint: '…a', updated_at: 1 }
      ]
    });
    expect(state.items!.map(s => s.name)).toEqual([
      'HF_TOKEN',
      'OPENAI_API_KEY'
    ]);
  });

  it('keeps only names, hints and times, whatever the answer holds', () => {
    const state = run({
      type: 'loaded',
      secrets: [{ name: 'HF_TOKEN', hint: '…abcd', value: 'hf_x' } as any]
    });
    expect(state.items).toEqual([
      { name: 'HF_TOKEN', hint: '…abcd', updated_at: null }
    ]);
    expect(JSON.stringify(state)).not.toContain('hf_x');
  });

  it('adds a saved secret with the time it was saved', () => {
    const state = run(
      { type: 'loaded', secrets: [] },
      { type: 'saving', name: 'HF_TOKEN' },
      { type: 'saved', secret: { name: 'HF_TOKEN', hint: '…WXYZ' }, at: 42 }
    );
    expect(state.items).toEqual([
      { name: 'HF_TOKEN', hint: '…WXYZ', updated_at: 42 }
    ]);
    expect(state.busy).toBeNull();
    expect(state.notice).toEqual({ kind: 'saved', name: 'HF_TOKEN' });
  });

  it('replaces a secret saved again under the same name', () => {
    const state = run(
      { type: 'loaded', secrets: [{ name: 'HF_TOKEN', hint: '…old1' }] },
      { type: 'saved', secret: { name: 'HF_TOKEN', hint: '…new2' }, at: 7 }
    );
    expect(state.items).toEqual([
      { name: 'HF_TOKEN', hint: '…new2', updated_at: 7 }
    ]);
  });

  it('keeps the flag of a secret the server cannot decrypt', () => {
    const state = run({
      type: 'loaded',
      secrets: [
        { name: 'OLD', hint: '…abcd', unreadable: true },
        { name: 'NEW', hint: '…wxyz' }
      ]
    });
    expect(state.items).toEqual([
      { name: 'NEW', hint: '…wxyz', updated_at: null },
      { name: 'OLD', hint: '…abcd', updated_at: null, unreadable: true }
    ]);
  });

  it('removes a deleted secret', () => {
    const state = run(
      {
        type: 'loaded',
        secrets: [{ name: 'A' }, { name: 'B' }]
      },
      { type: 'deleting', name: 'A' },
      { type: 'deleted', name: 'A' }
    );
    expect(state.items!.map(s => s.name)).toEqual(['B']);
    expect(state.notice).toEqual({ kind: 'deleted', name: 'A' });
  });

  it('marks the secret being changed as busy', () => {
    expect(run({ type: 'saving', name: 'A' }).busy).toBe('A');
    expect(run({ type: 'deleting', name: 'B' }).busy).toBe('B');
  });

  it("shows the server's message when a change fails, keeping the list", () => {
    const state = run(
      { type: 'loaded', secrets: [{ name: 'A' }] },
      { type: 'saving', name: 'B' },
      { type: 'failed', message: 'A secret needs a non-empty value.' }
    );
    expect(state.error).toBe('A secret needs a non-empty value.');
    expect(state.busy).toBeNull();
    expect(state.items!.map(s => s.name)).toEqual(['A']);
  });

  it('clears the last error when a new change starts', () => {
    const state = run(
      { type: 'failed', message: 'nope' },
      { type: 'saving', name: 'A' }
    );
    expect(state.error).toBeNull();
  });

  it('keeps a change error when the list reloads, and clears a load error', () => {
    const state = run(
      { type: 'loadFailed', message: 'offline' },
      { type: 'failed', message: 'nope' },
      { type: 'loaded', secrets: [] }
    );
    expect(state.loadError).toBeNull();
    expect(state.error).toBe('nope');
  });

  it('knows whether a name is stored (Save becomes Replace)', () => {
    const state = run({ type: 'loaded', secrets: [{ name: 'HF_TOKEN' }] });
    expect(isStored(state, 'HF_TOKEN')).toBe(true);
    expect(isStored(state, 'GITHUB_TOKEN')).toBe(false);
    expect(isStored(initialSecrets(), 'HF_TOKEN')).toBe(false);
  });
});
