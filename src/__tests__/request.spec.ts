import type { IRecipe, ISecretInfo } from '../api';
import {
  consentedSecrets,
  generationRequest,
  IRecipeForm,
  IRequestInputs,
  noSecrets,
  toggleSecret
} from '../request';

const FORM: IRecipeForm = {
  prompt: '  Score a few sentences  ',
  template: 'quickstart',
  topic: '',
  complexity: 'basic',
  provider: '',
  model: '',
  extras: {}
};

const STORED: ISecretInfo[] = [
  { name: 'HF_TOKEN', hint: '…abcd' },
  { name: 'MY_KEY', hint: '…wxyz' },
  { name: 'OLD_KEY', hint: '…0000', unreadable: true }
];

function inputs(overrides: Partial<IRequestInputs> = {}): IRequestInputs {
  return {
    repoId: 'r1',
    hfModel: '',
    form: FORM,
    recipe: undefined,
    approval: 'server',
    consent: noSecrets(),
    storedSecrets: STORED,
    ...overrides
  };
}

describe('generationRequest', () => {
  it('lets the kernel see no secret unless the user ticks one', () => {
    expect(generationRequest(inputs())).toEqual({
      repo_id: 'r1',
      prompt: 'Score a few sentences',
      template: 'quickstart',
      complexity: 'basic',
      secrets: []
    });
  });

  it('sends the ticked secrets, and keeps them only when asked', () => {
    const consent = toggleSecret(noSecrets(), 'MY_KEY', true);
    expect(generationRequest(inputs({ consent }))).toMatchObject({
      secrets: ['MY_KEY']
    });
    expect(generationRequest(inputs({ consent }))).not.toHaveProperty(
      'keep_secrets'
    );
    expect(
      generationRequest(inputs({ consent: { ...consent, keep: true } }))
    ).toMatchObject({ secrets: ['MY_KEY'], keep_secrets: true });
  });

  it('does not ask to keep secrets when none is ticked', () => {
    const request = generationRequest(
      inputs({ consent: { names: [], keep: true } })
    );
    expect(request.secrets).toEqual([]);
    expect(request).not.toHaveProperty('keep_secrets');
  });

  it('drops a ticked secret that was deleted or cannot be decrypted', () => {
    const consent = { names: ['HF_TOKEN', 'GONE', 'OLD_KEY'], keep: false };
    expect(generationRequest(inputs({ consent })).secrets).toEqual([
      'HF_TOKEN'
    ]);
  });

  it('sends no secret while the list is not known', () => {
    const consent = { names: ['HF_TOKEN'], keep: true };
    const request = generationRequest(inputs({ consent, storedSecrets: null }));
    expect(request.secrets).toEqual([]);
    expect(request).not.toHaveProperty('keep_secrets');
  });

  it('adds the optional fields the user filled in', () => {
    const recipe: IRecipe = {
      id: 'compare',
      title: 'Compare',
      inputs: ['prompt', { name: 'compare_with' }, 'data_path']
    };
    const request = generationRequest(
      inputs({
        hfModel: 'o/m',
        recipe,
        approval: 'always',
        form: {
          ...FORM,
          template: 'compare',
          topic: ' reviews ',
          provider: 'anthropic',
          model: ' claude ',
          extras: { compare_with: ' o/other ', data_path: '  ' }
        }
      })
    );
    expect(request).toEqual({
      repo_id: 'r1',
      prompt: 'Score a few sentences',
      template: 'compare',
      complexity: 'basic',
      hf_model_id: 'o/m',
      topic: 'reviews',
      provider: 'anthropic',
      model: 'claude',
      compare_with: 'o/other',
      approval: 'always',
      secrets: []
    });
  });
});

describe('secret consent', () => {
  it('ticks and unticks a secret once', () => {
    let consent = toggleSecret(noSecrets(), 'A', true);
    consent = toggleSecret(consent, 'A', true);
    consent = toggleSecret(consent, 'B', true);
    expect(consent.names).toEqual(['A', 'B']);
    expect(toggleSecret(consent, 'A', false).names).toEqual(['B']);
  });

  it('offers only stored, readable secrets, each once', () => {
    expect(
      consentedSecrets(
        { names: ['MY_KEY', 'MY_KEY', 'OLD_KEY'], keep: false },
        STORED
      )
    ).toEqual(['MY_KEY']);
  });
});
