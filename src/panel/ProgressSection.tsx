import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { isTerminalStatus } from '../api';
import { IApproval, IStep, totalTokens } from '../progress';
import type { ILiveGeneration } from '../tokens';
import { basename, formatCost, formatDuration } from './format';
import { useTicker } from './hooks';

/** The translated text of a progress step. */
export function stepText(trans: TranslationBundle, step: IStep): string {
  const [a = '', b = ''] = step.args;
  switch (step.msg) {
    case 'started':
      return trans.__('Started with %1 (%2)', a, b);
    case 'status':
    case 'text':
    case 'warning':
      return String(a);
    case 'read':
      return trans.__('Read %1', a);
    case 'listed':
      return trans.__('Listed files in %1', a);
    case 'searched':
      return trans.__('Searched the repository for “%1”', a);
    case 'fixed':
      return trans.__('Fixed cell %1', a);
    case 'removed':
      return trans.__('Removed cell %1', a);
    case 'called':
      return trans.__('Called %1', a);
    case 'toolFailed':
      return trans.__('%1 failed', a);
    case 'wroteMarkdown':
      return trans.__('Wrote markdown cell %1', a);
    case 'wroteCode':
      return trans.__('Wrote code cell %1', a);
    case 'running':
      return trans.__('Running cell %1… %2 s', a, b);
    case 'ran':
      return trans.__('Ran cell %1 in %2 s', a, b);
    case 'cellFailed':
      return trans.__('Cell %1 failed', a);
    case 'validated':
      return trans.__('Cell %1 added to the notebook', a);
    case 'withdrawn':
      return trans.__('Cell %1 withdrawn', a);
    case 'approval':
      return trans.__('Cell %1 needs approval', a);
    case 'approved':
      return trans.__('Cell %1 approved to run', a);
    case 'declined':
      return trans.__('Cell %1 not run: not approved', a);
    case 'finished':
      return trans._n(
        'Finished: %1 cell kept',
        'Finished: %1 cells kept',
        Number(a)
      );
    case 'failed':
      return trans.__('Failed');
    case 'cancelled':
      return trans.__('Cancelled');
    default:
      return String(a);
  }
}

const ICONS: Record<IStep['kind'], string> = {
  info: '•',
  text: '…',
  file: '▤',
  cell: '✎',
  run: '▶',
  ok: '✓',
  error: '✗',
  fix: '↻',
  validated: '+',
  warning: '!',
  done: '★'
};

export function statusLabel(trans: TranslationBundle, status: string): string {
  switch (status) {
    case 'starting':
      return trans.__('Starting');
    case 'running':
      return trans.__('Running');
    case 'cancelling':
      return trans.__('Cancelling…');
    case 'finished':
      return trans.__('Finished');
    case 'failed':
      return trans.__('Failed');
    case 'cancelled':
      return trans.__('Cancelled');
    case 'interrupted':
      return trans.__('Interrupted');
    case 'pending':
    case 'queued':
      return trans.__('Queued');
    default:
      return status;
  }
}

export interface IProgressSectionProps {
  trans: TranslationBundle;
  generation: ILiveGeneration;
  onCancel: () => void;
  /** Run (approved) or skip a cell; `trust` also trusts its repository. */
  onApprove: (approval: IApproval, approved: boolean, trust: boolean) => void;
  onDownload: () => void;
  /** Whether this browser started it (and inserts its cells). */
  local: boolean;
}

/** Progress: live steps, tokens and cost so far, elapsed time, Cancel. */
export function ProgressSection(props: IProgressSectionProps): JSX.Element {
  const { trans, generation } = props;
  const p = generation.progress;
  const terminal = isTerminalStatus(p.status);
  const now = useTicker(!terminal);
  const listRef = React.useRef<HTMLOListElement>(null);
  const stick = React.useRef(true);

  let elapsed = 0;
  if (p.startedAt !== undefined) {
    const end = p.finishedAt ?? now / 1000 - (generation.clockOffset ?? 0);
    elapsed = Math.max(0, end - p.startedAt);
  }

  React.useLayoutEffect(() => {
    const list = listRef.current;
    if (list && stick.current) {
      list.scrollTop = list.scrollHeight;
    }
  }, [p.steps.length, p.lastSeq]);

  const onScroll = () => {
    const list = listRef.current;
    if (list) {
      stick.current =
        list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    }
  };

  const tokens = totalTokens(p.usage);
  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-progress"
      aria-labelledby="jp-Cookbook-progress-title"
      data-generation-id={generation.id}
      data-status={p.status}
    >
      <h3 id="jp-Cookbook-progress-title" className="jp-Cookbook-sectionTitle">
        {trans.__('Progress')}
      </h3>
      <div className="jp-Cookbook-row">
        <span
          className="jp-Cookbook-status"
          data-status={p.status}
          role="status"
        >
          {statusLabel(trans, p.status)}
        </span>
        <span className="jp-Cookbook-spacer" />
        {!terminal && (
          <Button
            className="jp-Cookbook-cancel"
            onClick={props.onCancel}
            disabled={p.status === 'cancelling'}
            title={trans.__('Stop this generation now')}
          >
            {trans.__('Cancel')}
          </Button>
        )}
        {terminal && (
          <Button
            small
            minimal
            onClick={props.onDownload}
            title={trans.__('Download the validated notebook')}
          >
            {trans.__('Download .ipynb')}
          </Button>
        )}
      </div>
      {generation.path && (
        <div className="jp-Cookbook-target" title={generation.path}>
          {trans.__('Into %1', basename(generation.path))}
        </div>
      )}
      <div className="jp-Cookbook-stats" aria-label={trans.__('Statistics')}>
        <span>
          {trans.__('Elapsed')}{' '}
          <b className="jp-Cookbook-elapsed">{formatDuration(elapsed)}</b>
        </span>
        <span>
          {trans.__('Tokens')}{' '}
          <b className="jp-Cookbook-tokens">{tokens.toLocaleString()}</b>
        </span>
        <span>
          {trans.__('Cost')}{' '}
          <b className="jp-Cookbook-cost">{formatCost(p.usage.cost_usd)}</b>
        </span>
        <span>
          {trans.__('Cells kept')}{' '}
          <b className="jp-Cookbook-kept">{p.validatedCells.length}</b>
        </span>
        {p.filesRead > 0 && (
          <span>
            {trans.__('Files read')} <b>{p.filesRead}</b>
          </span>
        )}
        {p.errors > 0 && (
          <span>
            {trans.__('Errors')} <b>{p.errors}</b>
          </span>
        )}
        {p.fixes > 0 && (
          <span>
            {trans.__('Fixes')} <b>{p.fixes}</b>
          </span>
        )}
      </div>
      {generation.streamState === 'reconnecting' && (
        <div className="jp-Cookbook-notice" role="status">
          {trans.__(
            'Connection lost; reconnecting… Nothing is lost: the stream resumes where it stopped.'
          )}
        </div>
      )}
      {generation.error && (
        <div className="jp-Cookbook-error" role="alert">
          {generation.error}
        </div>
      )}
      {p.status === 'failed' && p.message && (
        <div className="jp-Cookbook-error" role="alert">
          {p.message}
        </div>
      )}
      {p.approvals.map(approval => (
        <ApprovalCard
          key={approval.approvalId}
          trans={trans}
          approval={approval}
          onAnswer={(approved, trust) =>
            props.onApprove(approval, approved, trust)
          }
        />
      ))}
      <ol
        className="jp-Cookbook-steps"
        ref={listRef}
        onScroll={onScroll}
        aria-label={trans.__('Steps')}
        aria-live="polite"
        tabIndex={0}
      >
        {p.steps.length === 0 && (
          <li className="jp-Cookbook-step" data-kind="info">
            <span className="jp-Cookbook-stepIcon">•</span>
            <span className="jp-Cookbook-stepText">
              {trans.__('Waiting for the first step…')}
            </span>
          </li>
        )}
        {p.steps.map(step => (
          <li key={step.key} className="jp-Cookbook-step" data-kind={step.kind}>
            <span className="jp-Cookbook-stepIcon" aria-hidden="true">
              {ICONS[step.kind]}
            </span>
            <span className="jp-Cookbook-stepText">
              {stepText(trans, step)}
              {step.detail && (
                <span className="jp-Cookbook-stepDetail">{step.detail}</span>
              )}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

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

/**
 * A cell waiting for the user's go-ahead. Code taken from a repository the
 * user has not trusted (or its model card) says so, shows in full, and can
 * trust the repository on the spot.
 */
function ApprovalCard(props: {
  trans: TranslationBundle;
  approval: IApproval;
  onAnswer: (approved: boolean, trust: boolean) => void;
}): JSX.Element {
  const { trans, approval } = props;
  const origin = originText(trans, approval);
  const canTrust = approval.untrusted && approval.repo !== null;
  const sourceId = `jp-Cookbook-approval-${approval.approvalId}-source`;
  return (
    <div
      className="jp-Cookbook-notice jp-Cookbook-approval"
      role="group"
      aria-label={trans.__('Approval for cell %1', approval.cellId)}
      data-origin={approval.origin}
      data-untrusted={approval.untrusted ? 'true' : 'false'}
    >
      <div className="jp-Cookbook-approvalQuestion">
        {trans.__('Run cell %1 in your kernel?', approval.cellId)}
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
        <ul
          className="jp-Cookbook-reasons jp-Cookbook-approvalDetails"
          aria-label={trans.__('What will happen')}
        >
          {approval.details.map((detail, i) => (
            <li key={i}>
              <code>{detail}</code>
            </li>
          ))}
        </ul>
      )}
      <pre
        id={sourceId}
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
          aria-describedby={sourceId}
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
