/**
 * The consent beside Generate for a private repository: the token its setup
 * cell needs is named with why, still unticked until the user ticks it.
 */
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import type { ISecretInfo } from '../api';
import { noSecrets } from '../request';
import {
  GITHUB_TOKEN,
  neededSecrets,
  SecretConsent
} from '../panel/SecretConsent';

// react-dom ships no types here; only createRoot is used.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { createRoot } = require('react-dom/client') as {
  createRoot(container: Element): {
    render(node: React.ReactNode): void;
    unmount(): void;
  };
};

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;
const trans = nullTranslator.load('cookbook_ext');

function secret(name: string): ISecretInfo {
  return { name, hint: '…abcd', updated_at: 1 } as ISecretInfo;
}

describe('neededSecrets', () => {
  it('names GITHUB_TOKEN for a private GitHub repository only', () => {
    expect(
      Object.keys(
        neededSecrets(trans, { kind: 'github', metadata: { private: true } })
      )
    ).toEqual([GITHUB_TOKEN]);
    expect(
      neededSecrets(trans, { kind: 'github', metadata: { private: false } })
    ).toEqual({});
    expect(neededSecrets(trans, { kind: 'local', metadata: {} })).toEqual({});
    expect(neededSecrets(trans, null)).toEqual({});
  });
});

describe('SecretConsent', () => {
  it('says why a needed secret matters, and leaves it unticked', () => {
    const host = document.createElement('div');
    document.body.appendChild(host);
    const root = createRoot(host);
    const needed = neededSecrets(trans, {
      kind: 'github',
      metadata: { private: true }
    });
    React.act(() =>
      root.render(
        <SecretConsent
          trans={trans}
          secrets={[secret(GITHUB_TOKEN), secret('HF_TOKEN')]}
          consent={noSecrets()}
          onChange={() => undefined}
          needed={needed}
        />
      )
    );
    const item = (name: string) =>
      host.querySelector(`[data-secret-name="${name}"]`)!;
    expect(item(GITHUB_TOKEN).textContent).toContain(
      'This repository is private'
    );
    expect(item('HF_TOKEN').textContent).not.toContain('private');
    const box = item(GITHUB_TOKEN).querySelector('input') as HTMLInputElement;
    expect(box.checked).toBe(false);
    React.act(() => root.unmount());
    host.remove();
  });
});
