import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { IApproval } from '../progress';

/** Whose code a cell is, in a sentence (nothing for the model's own). */
function originText(
  trans: TranslationBundle,
  approval: IApproval
): string | null {
  const label = approval.repo?.label;
  switch (approval.origin) {
    case 'repository':
      return label
        ? trans.__('This is code from the repository %1.', label)
        : trans.__('This is code from the repository.');
    case 'model_card':
      return label
        ? trans.__('This is code from the model card of %1.', label)
        : trans.__('This is code from the model card.');
    default:
      return null;
  }
}

/** The question a card asks, naming the cell by what it does when known. */
export function approvalQuestion(
  trans: TranslationBundle,
  approval: IApproval
): string {
  return approval.title
    ? trans.__('Run “%1” in your kernel?', approval.title)
    : trans.__('Run cell %1 in your kernel?', approval.cellId);
}

export interface IApprovalCardProps {
  trans: TranslationBundle;
  approval: IApproval;
  onAnswer: (approved: boolean, trust: boolean) => void;
  /** Take the keyboard focus when it appears (the panel is showing). */
  autoFocus?: boolean;
}

/**
 * A cell waiting for the user's go-ahead. It names exactly what will happen
 * (the packages and versions to install, the command, the host called), in
 * full and wrapped, so nothing is cut off in a narrow sidebar. Code taken
 * from a repository the user has not trusted (or its model card) says so,
 * shows in full, and can trust the repository on the spot.
 */
export function ApprovalCard(props: IApprovalCardProps): JSX.Element {
  const { trans, approval } = props;
  const origin = originText(trans, approval);
  const canTrust = approval.untrusted && approval.repo !== null;
  const base = `jp-Cookbook-approval-${approval.approvalId}`;
  const ref = React.useRef<HTMLDivElement>(null);

  React.useEffect(() => {
    if (props.autoFocus && ref.current) {
      ref.current.scrollIntoView?.({ block: 'nearest' });
      ref.current.focus({ preventScroll: true });
    }
  }, [props.autoFocus, approval.approvalId]);

  return (
    <div
      ref={ref}
      className="jp-Cookbook-notice jp-Cookbook-approval"
      role="group"
      aria-labelledby={`${base}-question`}
      aria-describedby={
        approval.details.length > 0 ? `${base}-details` : undefined
      }
      tabIndex={-1}
      data-approval-id={approval.approvalId}
      data-origin={approval.origin}
      data-untrusted={approval.untrusted ? 'true' : 'false'}
    >
      <div id={`${base}-question`} className="jp-Cookbook-approvalQuestion">
        {approvalQuestion(trans, approval)}
      </div>
      {origin && <p className="jp-Cookbook-approvalOrigin">{origin}</p>}
      {approval.untrusted && (
        <p className="jp-Cookbook-approvalTrust">
          {trans.__('The repository is not trusted yet.')}
        </p>
      )}
      {approval.reasons.length > 0 && (
        <ul className="jp-Cookbook-reasons">
          {approval.reasons.map((reason, i) => (
            <li key={i}>{reason}</li>
          ))}
        </ul>
      )}
      {approval.details.length > 0 && (
        <>
          <div className="jp-Cookbook-label">
            {trans.__('What will happen')}
          </div>
          <ul
            id={`${base}-details`}
            className="jp-Cookbook-reasons jp-Cookbook-approvalDetails"
            aria-label={trans.__('What will happen')}
          >
            {approval.details.map((detail, i) => (
              <li key={i}>
                <code>{detail}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      <pre
        id={`${base}-source`}
        className="jp-Cookbook-approvalSource"
        aria-label={trans.__('The code of cell %1', approval.cellId)}
        tabIndex={0}
      >
        {approval.source}
      </pre>
      <div className="jp-Cookbook-row jp-Cookbook-approvalActions">
        <Button
          small
          className="jp-Cookbook-accent"
          aria-describedby={`${base}-source`}
          onClick={() => props.onAnswer(true, false)}
        >
          {trans.__('Run it')}
        </Button>
        {canTrust && (
          <Button
            small
            className="jp-Cookbook-trustButton"
            title={trans.__(
              'Trust %1 and run this cell: from now on its code is treated like the model’s',
              approval.repo!.label
            )}
            onClick={() => props.onAnswer(true, true)}
          >
            {trans.__('Trust this repository and run')}
          </Button>
        )}
        <Button small minimal onClick={() => props.onAnswer(false, false)}>
          {trans.__('Skip it')}
        </Button>
      </div>
    </div>
  );
}
