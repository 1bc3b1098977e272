import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { lineDiff } from '../diff';
import type { ReplaceDecision } from '../notebook';
import type { IPendingReplacement } from '../tokens';

export interface IReplacementCardProps {
  trans: TranslationBundle;
  replacement: IPendingReplacement;
  onAnswer: (decision: ReplaceDecision) => void;
  autoFocus?: boolean;
}

/**
 * A follow-up's cell that would replace a cell the user wrote or changed:
 * the change as a diff, and the user's choice (replace it, add the new cell
 * below instead, or keep theirs).
 */
export function ReplacementCard(props: IReplacementCardProps): JSX.Element {
  const { trans, replacement } = props;
  const diff = React.useMemo(
    () => lineDiff(replacement.oldSource, replacement.newSource),
    [replacement.oldSource, replacement.newSource]
  );
  const base = `jp-Cookbook-replace-${replacement.cellId}`;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    if (props.autoFocus && ref.current) {
      ref.current.scrollIntoView?.({ block: 'nearest' });
      ref.current.focus({ preventScroll: true });
    }
  }, [props.autoFocus, replacement.cellId]);
  return (
    <div
      ref={ref}
      className="jp-Cookbook-notice jp-Cookbook-replacement"
      role="group"
      aria-labelledby={`${base}-question`}
      tabIndex={-1}
      data-cell-id={replacement.cellId}
      data-target={replacement.target}
    >
      <div id={`${base}-question`} className="jp-Cookbook-approvalQuestion">
        {replacement.title
          ? trans.__('Replace your edited cell with “%1”?', replacement.title)
          : trans.__('Replace your edited cell?')}
      </div>
      <p className="jp-Cookbook-muted">
        {trans.__(
          'You changed this cell; the follow-up would rewrite it as shown.'
        )}
      </p>
      <pre
        className="jp-Cookbook-diff"
        aria-label={trans.__('The change, line by line')}
        tabIndex={0}
      >
        {diff.map((line, i) => (
          <span key={i} className="jp-Cookbook-diffLine" data-kind={line.kind}>
            <span className="jp-Cookbook-diffMark" aria-hidden="true">
              {line.kind === 'added'
                ? '+'
                : line.kind === 'removed'
                  ? '−'
                  : ' '}
            </span>
            <span className="jp-Cookbook-srOnly">
              {line.kind === 'added'
                ? trans.__('added: ')
                : line.kind === 'removed'
                  ? trans.__('removed: ')
                  : ''}
            </span>
            {line.text || ' '}
            {'\n'}
          </span>
        ))}
      </pre>
      <div className="jp-Cookbook-row jp-Cookbook-approvalActions">
        <Button
          small
          className="jp-Cookbook-accent"
          onClick={() => props.onAnswer('replace')}
        >
          {trans.__('Replace it')}
        </Button>
        <Button small onClick={() => props.onAnswer('add')}>
          {trans.__('Add it as a new cell')}
        </Button>
        <Button small minimal onClick={() => props.onAnswer('skip')}>
          {trans.__('Keep mine')}
        </Button>
      </div>
    </div>
  );
}
