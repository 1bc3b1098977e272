import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { isSubmitKey } from './keys';

export interface IFollowUpBoxProps {
  trans: TranslationBundle;
  /** The generation it continues (for ids). */
  parentId: string;
  /** Start the follow-up; rejects with the server's message. */
  onSubmit: (prompt: string) => Promise<void>;
  /** Why it cannot start now (e.g. no notebook open), or null. */
  blocker: string | null;
}

/**
 * "Now read my CSV at data/reviews.csv": a follow-up continues the
 * generation in the same notebook, seeing the cells as they are now.
 */
export function FollowUpBox(props: IFollowUpBoxProps): JSX.Element {
  const { trans } = props;
  const [text, setText] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const id = `jp-Cookbook-followUp-${props.parentId}`;
  const submit = async () => {
    if (busy || props.blocker || !text.trim()) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await props.onSubmit(text.trim());
      setText('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="jp-Cookbook-followUp">
      <label className="jp-Cookbook-label" htmlFor={id}>
        {trans.__('Continue: what should it add or change?')}
      </label>
      <textarea
        id={id}
        className="jp-mod-styled jp-Cookbook-textarea"
        rows={2}
        value={text}
        placeholder={trans.__(
          'e.g. now read my CSV at data/reviews.csv, or add a plot of the scores'
        )}
        onChange={e => setText(e.target.value)}
        onKeyDown={e => {
          if (isSubmitKey(e)) {
            e.preventDefault();
            void submit();
          }
        }}
        disabled={busy}
        aria-describedby={`${id}-hint`}
      />
      <p id={`${id}-hint`} className="jp-Cookbook-muted jp-Cookbook-hint">
        {props.blocker ??
          trans.__(
            'It sees the notebook as it is now, your edits included, and asks before replacing a cell you changed.'
          )}
      </p>
      <Button
        small
        className="jp-Cookbook-accent jp-Cookbook-followUpButton"
        disabled={busy || !text.trim() || props.blocker !== null}
        onClick={() => void submit()}
      >
        {busy ? trans.__('Starting…') : trans.__('Continue the notebook')}
      </Button>
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
