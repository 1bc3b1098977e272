import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  CookbookAPIError,
  errorMessage,
  ISecretInfo,
  isAbortError
} from '../api';
import {
  initialSecrets,
  isStored,
  isValidSecretName,
  reduceSecrets,
  SUGGESTED_SECRET_NAMES
} from '../secrets';
import type { ICookbook } from '../tokens';
import { toDate } from './format';
import { loadFlag, saveFlag } from './persist';

const OPEN_KEY = 'cookbook-ext:secrets-open:v1';

export interface ISecretsSectionProps {
  /** Saving or deleting a secret through it also refreshes the providers' status. */
  model: ICookbook;
  trans: TranslationBundle;
  /** Grows when another part of the panel asks to add a key: open and focus the form. */
  focusRequest?: number;
}

/**
 * Secrets: the user's API keys and tokens, stored encrypted by the server.
 * Values go in through a password field that is not a React-controlled
 * input, so the value is never in React state, a DOM attribute or storage;
 * the server only ever sends names and masked hints back.
 */
export function SecretsSection(props: ISecretsSectionProps): JSX.Element {
  const { model, trans } = props;
  const [open, setOpen] = React.useState(() => loadFlag(OPEN_KEY, false));
  const [state, dispatch] = React.useReducer(
    reduceSecrets,
    undefined,
    initialSecrets
  );
  const [reload, setReload] = React.useState(0);
  const [name, setName] = React.useState('');
  const [hasValue, setHasValue] = React.useState(false);
  const nameRef = React.useRef<HTMLInputElement>(null);
  const valueRef = React.useRef<HTMLInputElement>(null);
  const focusName = React.useRef(false);

  React.useEffect(() => {
    if (!open) {
      return;
    }
    const controller = new AbortController();
    model
      .refreshSecrets(controller.signal)
      .then(secrets => dispatch({ type: 'loaded', secrets: [...secrets] }))
      .catch(err => {
        if (!isAbortError(err) && !controller.signal.aborted) {
          dispatch({ type: 'loadFailed', message: errorMessage(err) });
        }
      });
    return () => controller.abort();
  }, [model, open, reload]);

  const setOpenAndRemember = (value: boolean) => {
    setOpen(value);
    saveFlag(OPEN_KEY, value);
  };

  React.useEffect(() => {
    if (props.focusRequest) {
      focusName.current = true;
      setOpenAndRemember(true);
    }
  }, [props.focusRequest]);

  React.useEffect(() => {
    if (open && focusName.current && nameRef.current) {
      focusName.current = false;
      nameRef.current.focus();
    }
  });

  const trimmed = name.trim();
  const nameInvalid = trimmed.length > 0 && !isValidSecretName(trimmed);
  const replacing = isStored(state, trimmed);
  const canSave = isValidSecretName(trimmed) && hasValue && state.busy === null;

  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    const input = valueRef.current;
    if (!input || !canSave || !input.value.trim()) {
      return;
    }
    dispatch({ type: 'saving', name: trimmed });
    let saved: ISecretInfo;
    try {
      saved = await model.setSecret(trimmed, input.value);
    } catch (err) {
      // The value stays in the field so the user can correct and retry.
      dispatch({ type: 'failed', message: errorMessage(err) });
      return;
    }
    input.value = '';
    setHasValue(false);
    setName('');
    dispatch({
      type: 'saved',
      secret: { ...saved, name: saved?.name ?? trimmed },
      at: Date.now() / 1000
    });
    setReload(r => r + 1);
  };

  const remove = async (secret: string) => {
    const result = await showDialog({
      title: trans.__('Delete %1?', secret),
      body: trans.__(
        'Cookbook will no longer use this secret. This cannot be undone; you can save a new value later.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Delete') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    dispatch({ type: 'deleting', name: secret });
    try {
      await model.deleteSecret(secret);
      dispatch({ type: 'deleted', name: secret });
    } catch (err) {
      if (err instanceof CookbookAPIError && err.status === 404) {
        // Already gone (another tab): the list catches up below.
        dispatch({ type: 'deleted', name: secret });
      } else {
        dispatch({ type: 'failed', message: errorMessage(err) });
        return;
      }
    } finally {
      setReload(r => r + 1);
    }
    nameRef.current?.focus();
  };

  const replace = (secret: string) => {
    setName(secret);
    valueRef.current?.focus();
  };

  const items = state.items;
  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-secretsSection"
      aria-labelledby="jp-Cookbook-secrets-toggle"
    >
      <h3 className="jp-Cookbook-sectionTitle">
        <button
          id="jp-Cookbook-secrets-toggle"
          type="button"
          className="jp-Cookbook-disclosure"
          aria-expanded={open}
          aria-controls="jp-Cookbook-secrets-body"
          onClick={() => setOpenAndRemember(!open)}
        >
          <caretRightIcon.react
            tag="span"
            className="jp-Cookbook-caret"
            aria-hidden="true"
          />
          {trans.__('Secrets')}
          {items && items.length > 0 && (
            <>
              {' '}
              <span className="jp-Cookbook-count">{items.length}</span>
            </>
          )}
        </button>
      </h3>
      {open && (
        <div id="jp-Cookbook-secrets-body" className="jp-Cookbook-secrets">
          <p className="jp-Cookbook-muted">
            {trans.__(
              'API keys and tokens for the model providers, Hugging Face and GitHub. They are stored encrypted on the server and never shown again: only a masked hint.'
            )}
          </p>
          {state.loadError && (
            <div className="jp-Cookbook-error" role="alert">
              {state.loadError}
            </div>
          )}
          {items === null && !state.loadError && (
            <p className="jp-Cookbook-muted">{trans.__('Loading…')}</p>
          )}
          {items && items.length === 0 && (
            <p className="jp-Cookbook-muted">{trans.__('No secrets saved.')}</p>
          )}
          {items && items.length > 0 && (
            <ul
              className="jp-Cookbook-secretList"
              aria-label={trans.__('Saved secrets')}
            >
              {items.map(secret => {
                const updated = toDate(secret.updated_at ?? null);
                return (
                  <li
                    key={secret.name}
                    className="jp-Cookbook-secret"
                    data-secret-name={secret.name}
                  >
                    <div className="jp-Cookbook-secretInfo">
                      <span className="jp-Cookbook-secretName">
                        {secret.name}
                      </span>
                      <span
                        className="jp-Cookbook-secretHint"
                        title={trans.__(
                          'Masked: only the last characters of a long value are shown'
                        )}
                      >
                        {secret.hint || '…'}
                      </span>
                      {secret.unreadable && (
                        <span className="jp-Cookbook-reason">
                          {trans.__(
                            'Cannot be decrypted with the server’s current key: save it again.'
                          )}
                        </span>
                      )}
                      {updated && (
                        <time
                          className="jp-Cookbook-secretTime"
                          dateTime={updated.toISOString()}
                        >
                          {trans.__('Updated %1', updated.toLocaleString())}
                        </time>
                      )}
                    </div>
                    <div className="jp-Cookbook-secretActions">
                      <Button
                        small
                        minimal
                        onClick={() => replace(secret.name)}
                        disabled={state.busy !== null}
                        aria-label={trans.__('Replace %1', secret.name)}
                      >
                        {trans.__('Replace')}
                      </Button>
                      <Button
                        small
                        minimal
                        onClick={() => void remove(secret.name)}
                        disabled={state.busy !== null}
                        aria-label={trans.__('Delete %1', secret.name)}
                      >
                        {state.busy === secret.name
                          ? trans.__('Deleting…')
                          : trans.__('Delete')}
                      </Button>
                    </div>
                  </li>
                );
              })}
            </ul>
          )}
          <form
            className="jp-Cookbook-form jp-Cookbook-secretForm"
            onSubmit={e => void save(e)}
            aria-label={trans.__('Add or replace a secret')}
          >
            <label
              className="jp-Cookbook-label"
              htmlFor="jp-Cookbook-secret-name"
            >
              {trans.__('Name')}
            </label>
            <input
              id="jp-Cookbook-secret-name"
              ref={nameRef}
              className="jp-mod-styled jp-Cookbook-input jp-Cookbook-mono"
              type="text"
              list="jp-Cookbook-secret-suggestions"
              value={name}
              placeholder={trans.__('e.g. HF_TOKEN')}
              onChange={e => setName(e.target.value)}
              aria-invalid={nameInvalid}
              aria-describedby={
                nameInvalid ? 'jp-Cookbook-secret-name-rule' : undefined
              }
              spellCheck={false}
              autoComplete="off"
              autoCapitalize="off"
            />
            <datalist id="jp-Cookbook-secret-suggestions">
              {SUGGESTED_SECRET_NAMES.map(n => (
                <option key={n} value={n} />
              ))}
            </datalist>
            {nameInvalid && (
              <p
                id="jp-Cookbook-secret-name-rule"
                className="jp-Cookbook-reason"
              >
                {trans.__(
                  'A letter or underscore, then letters, digits or underscores (at most 128).'
                )}
              </p>
            )}
            <label
              className="jp-Cookbook-label"
              htmlFor="jp-Cookbook-secret-value"
            >
              {trans.__('Value')}
            </label>
            <input
              id="jp-Cookbook-secret-value"
              ref={valueRef}
              className="jp-mod-styled jp-Cookbook-input jp-Cookbook-mono"
              type="password"
              placeholder={
                replacing
                  ? trans.__('The new value')
                  : trans.__('Paste the key or token')
              }
              onChange={e => setHasValue(e.target.value.trim().length > 0)}
              spellCheck={false}
              autoComplete="new-password"
              autoCapitalize="off"
            />
            <div className="jp-Cookbook-row">
              <Button
                type="submit"
                small
                className="jp-Cookbook-accent"
                disabled={!canSave}
              >
                {state.busy !== null && state.busy === trimmed
                  ? trans.__('Saving…')
                  : replacing
                    ? trans.__('Replace')
                    : trans.__('Save')}
              </Button>
            </div>
          </form>
          {state.error && (
            <div className="jp-Cookbook-error" role="alert">
              {state.error}
            </div>
          )}
          <p className="jp-Cookbook-muted" role="status">
            {state.notice?.kind === 'saved'
              ? trans.__('Saved %1.', state.notice.name)
              : state.notice?.kind === 'deleted'
                ? trans.__('Deleted %1.', state.notice.name)
                : ''}
          </p>
        </div>
      )}
    </section>
  );
}
