import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { ISecretInfo } from '../api';
import {
  consentedSecrets,
  isUsableSecret,
  ISecretConsent,
  toggleSecret
} from '../request';

export interface ISecretConsentProps {
  trans: TranslationBundle;
  /** The stored secrets (null until listed). */
  secrets: ReadonlyArray<ISecretInfo> | null;
  consent: ISecretConsent;
  onChange: (consent: ISecretConsent) => void;
  disabled?: boolean;
  /** Secrets this generation needs, by name, with why (a private repository's token). */
  needed?: Readonly<Record<string, string>>;
}

/** What the setup cell of a private GitHub repository reads its token from. */
export const GITHUB_TOKEN = 'GITHUB_TOKEN';

/** The secrets a repository needs to be cloned by its notebook, with why. */
export function neededSecrets(
  trans: TranslationBundle,
  repo: { kind?: string; metadata?: Record<string, unknown> } | null
): Record<string, string> {
  if (repo?.kind === 'github' && repo.metadata?.private === true) {
    return {
      [GITHUB_TOKEN]: trans.__(
        'This repository is private: the notebook’s setup cell clones it with this token.'
      )
    };
  }
  return {};
}

/**
 * Beside Generate: which stored secrets the generation's kernel may see.
 * None is ticked until the user ticks it; nothing in a repository, a prompt
 * or the model's answer chooses one.
 */
export function SecretConsent(props: ISecretConsentProps): JSX.Element | null {
  const { trans, secrets, consent, onChange } = props;
  if (!secrets || secrets.length === 0) {
    return null;
  }
  const chosen = consentedSecrets(consent, secrets);
  return (
    <fieldset
      className="jp-Cookbook-consent"
      aria-describedby="jp-Cookbook-consent-help"
      disabled={props.disabled}
    >
      <legend className="jp-Cookbook-label">
        {trans.__('Let the kernel see:')}
      </legend>
      <ul className="jp-Cookbook-consentList">
        {secrets.map(secret => {
          const usable = isUsableSecret(secret);
          const id = `jp-Cookbook-consent-${secret.name}`;
          const noteId = `${id}-note`;
          return (
            <li
              key={secret.name}
              className="jp-Cookbook-consentItem"
              data-secret-name={secret.name}
            >
              <input
                id={id}
                type="checkbox"
                checked={usable && chosen.includes(secret.name)}
                disabled={!usable}
                aria-describedby={usable ? undefined : noteId}
                onChange={e =>
                  onChange(toggleSecret(consent, secret.name, e.target.checked))
                }
              />
              <label htmlFor={id} className="jp-Cookbook-mono">
                {secret.name}
              </label>
              {usable &&
                props.needed?.[secret.name] &&
                !chosen.includes(secret.name) && (
                  <span className="jp-Cookbook-reason">
                    {props.needed[secret.name]}
                  </span>
                )}
              {!usable && (
                <span id={noteId} className="jp-Cookbook-reason">
                  {trans.__(
                    'Cannot be decrypted with the server’s current key: save it again to use it.'
                  )}
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <div className="jp-Cookbook-consentItem">
        <input
          id="jp-Cookbook-consent-keep"
          type="checkbox"
          checked={consent.keep}
          disabled={chosen.length === 0}
          onChange={e => onChange({ ...consent, keep: e.target.checked })}
        />
        <label htmlFor="jp-Cookbook-consent-keep">
          {trans.__('Keep them in my kernel afterwards')}
        </label>
      </div>
      <p id="jp-Cookbook-consent-help" className="jp-Cookbook-muted">
        {chosen.length === 0
          ? trans.__(
              'None is ticked: the generated code runs without your secrets.'
            )
          : consent.keep
            ? trans.__(
                'The ticked secrets go into your kernel’s environment and stay there.'
              )
            : trans.__(
                'The ticked secrets go into your kernel’s environment for this generation; Cookbook takes them out again afterwards.'
              )}
      </p>
    </fieldset>
  );
}
