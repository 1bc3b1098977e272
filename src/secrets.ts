/**
 * The Secrets section's state: the user's stored secrets as the server
 * describes them (names, masked hints, times; never values), and the name
 * rules the server enforces. Pure, so it is tested without a browser.
 */
import type { ISecretInfo } from './api';

/** The server's rule for a secret name (`cookbook_ext/secrets.py`). */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Names the server and its providers read, offered as suggestions. */
export const SUGGESTED_SECRET_NAMES: readonly string[] = [
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'HF_TOKEN',
  'GITHUB_TOKEN'
];

export function isValidSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

export interface ISecretsState {
  /** Stored secrets sorted by name; null until the first answer. */
  items: ISecretInfo[] | null;
  /** The name being saved or deleted, if any. */
  busy: string | null;
  /** Why the list could not be loaded. */
  loadError: string | null;
  /** The server's message for the last failed save or delete. */
  error: string | null;
  /** What the last change did (announced to screen readers). */
  notice: { kind: 'saved' | 'deleted'; name: string } | null;
}

export type SecretsAction =
  | { type: 'loaded'; secrets: ISecretInfo[] }
  | { type: 'loadFailed'; message: string }
  | { type: 'saving'; name: string }
  | { type: 'saved'; secret: ISecretInfo; at: number }
  | { type: 'deleting'; name: string }
  | { type: 'deleted'; name: string }
  | { type: 'failed'; message: string }
  | { type: 'dismiss' };

export function initialSecrets(): ISecretsState {
  return {
    items: null,
    busy: null,
    loadError: null,
    error: null,
    notice: null
  };
}

function byName(items: ISecretInfo[]): ISecretInfo[] {
  return items
    .slice()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Only what the list shows is kept: a name, a hint, a time, and whether the
 * server can still decrypt it. Anything else in an answer (a value, should a
 * server ever send one) is dropped here.
 */
function describe(secret: ISecretInfo): ISecretInfo {
  return {
    name: String(secret.name),
    hint: typeof secret.hint === 'string' ? secret.hint : null,
    updated_at:
      typeof secret.updated_at === 'number' ||
      typeof secret.updated_at === 'string'
        ? secret.updated_at
        : null,
    ...(secret.unreadable === true ? { unreadable: true } : {})
  };
}

export function reduceSecrets(
  state: ISecretsState,
  action: SecretsAction
): ISecretsState {
  switch (action.type) {
    case 'loaded':
      return {
        ...state,
        items: byName(
          action.secrets.filter(s => s && typeof s.name === 'string')
        ).map(describe),
        loadError: null
      };
    case 'loadFailed':
      return { ...state, loadError: action.message };
    case 'saving':
    case 'deleting':
      return { ...state, busy: action.name, error: null, notice: null };
    case 'saved': {
      // Shown at once; the next list answer brings the server's own time.
      const secret = describe({
        ...action.secret,
        updated_at: action.secret.updated_at ?? action.at
      });
      const others = (state.items ?? []).filter(s => s.name !== secret.name);
      return {
        ...state,
        items: byName([...others, secret]),
        busy: null,
        error: null,
        notice: { kind: 'saved', name: secret.name }
      };
    }
    case 'deleted':
      return {
        ...state,
        items: (state.items ?? []).filter(s => s.name !== action.name),
        busy: null,
        error: null,
        notice: { kind: 'deleted', name: action.name }
      };
    case 'failed':
      return { ...state, busy: null, error: action.message, notice: null };
    case 'dismiss':
      return { ...state, error: null, notice: null };
    default:
      return state;
  }
}

/** Whether saving this name replaces a stored secret. */
export function isStored(state: ISecretsState, name: string): boolean {
  return (state.items ?? []).some(s => s.name === name);
}
