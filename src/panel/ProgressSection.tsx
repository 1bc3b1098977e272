import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { INextStep, IProviderInfo, isTerminalStatus } from '../api';
import type { ReplaceDecision } from '../notebook';
import { IApproval, IProgressState, IStep, totalTokens } from '../progress';
import type { ILiveGeneration } from '../tokens';
import { ApprovalCard, approvalQuestion } from './ApprovalCard';
import { FollowUpBox } from './FollowUpBox';
import { basename, formatCost, formatDuration } from './format';
import { useTicker } from './hooks';
import { Outcome, verificationText } from './Outcome';
import { ReplacementCard } from './ReplacementCard';

/** A step about a cell, named by what the cell does when that is known. */
function titledText(trans: TranslationBundle, step: IStep): string | null {
  const t = step.title;
  if (!t) {
    return null;
  }
  const [, b = ''] = step.args;
  switch (step.msg) {
    case 'fixed':
      return trans.__('Fixed “%1”', t);
    case 'removed':
      return trans.__('Removed “%1”', t);
    case 'wroteMarkdown':
      return trans.__('Wrote the text “%1”', t);
    case 'wroteCode':
      return trans.__('Wrote “%1”', t);
    case 'running':
      return trans.__('Running “%1”… %2 s', t, b);
    case 'ran':
      return trans.__('Ran “%1” in %2 s', t, b);
    case 'cellFailed':
      return trans.__('“%1” failed', t);
    case 'validated':
      return trans.__('“%1” added to the notebook', t);
    case 'withdrawn':
      return trans.__('“%1” withdrawn', t);
    case 'approval':
      return trans.__('“%1” needs approval', t);
    case 'approved':
      return trans.__('“%1” approved to run', t);
    case 'declined':
      return trans.__('“%1” not run: not approved', t);
    case 'verifiedFailed':
      return trans.__('Fails in a fresh kernel at “%1”', t);
    default:
      return null;
  }
}

/** The translated text of a progress step. */
export function stepText(
  trans: TranslationBundle,
  step: IStep,
  usesModel?: boolean
): string {
  const titled = titledText(trans, step);
  if (titled) {
    return titled;
  }
  const [a = '', b = ''] = step.args;
  switch (step.msg) {
    case 'started':
      return usesModel === false
        ? trans.__(
            'Started: building from the repository’s examples and the model card’s snippets'
          )
        : trans.__('Started with %1 (%2)', a, b);
    case 'choosing':
      return trans.__('Choosing the next example or snippet');
    case 'verifying':
      return trans.__('Re-running the notebook in a fresh kernel…');
    case 'verifiedPassed':
      return trans.__('Re-runs cleanly in a fresh kernel (%1 s)', a);
    case 'verifiedFailed':
      return trans.__('Fails in a fresh kernel at cell %1', a);
    case 'verifiedSkipped':
      return trans.__('Not re-run in a fresh kernel');
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
  verify: '⟳',
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

/** The one-line summary a screen reader hears (politely, at milestones only). */
export function progressSummary(
  trans: TranslationBundle,
  p: IProgressState
): string {
  const kept = trans._n(
    '%1 cell kept',
    '%1 cells kept',
    p.validatedCells.length
  );
  if (p.approvals.length > 0) {
    return `${statusLabel(trans, p.status)}: ${kept}. ${approvalQuestion(
      trans,
      p.approvals[0]
    )}`;
  }
  const parts = [`${statusLabel(trans, p.status)}: ${kept}.`];
  if (p.verification) {
    parts.push(verificationText(trans, p.verification, id => p.cellTitles[id]));
  }
  return parts.join(' ');
}

export interface IProgressSectionProps {
  trans: TranslationBundle;
  generation: ILiveGeneration;
  /** Whether this browser started it (and inserts its cells). */
  local: boolean;
  /** The server's providers (for "Try with a model provider"). */
  providers: ReadonlyArray<IProviderInfo>;
  /** Whether the panel is showing (a new question then takes the focus). */
  isShown: () => boolean;
  onCancel: () => void;
  /** Run (approved) or skip a cell; `trust` also trusts its repository. */
  onApprove: (approval: IApproval, approved: boolean, trust: boolean) => void;
  onDownload: () => void;
  /** Take its cells out of the notebook (one undo step); null when none are there. */
  onRemoveCells: (() => void) | null;
  onReplacement: (cellId: string, decision: ReplaceDecision) => void;
  /** Act on a next step of a failed or empty run. */
  onNextStep: (step: INextStep) => Promise<void>;
  /** Start a follow-up; null when none can start (see `followUpBlocker`). */
  onFollowUp: (prompt: string) => Promise<void>;
  followUpBlocker: string | null;
  /** Show another generation (its parent). */
  onOpen: (id: string) => void;
}

/** Whether the focus may move to a new question without taking it from the user's typing. */
function mayTakeFocus(panel: Element | null): boolean {
  const active = document.activeElement as HTMLElement | null;
  if (
    !active ||
    active === document.body ||
    (panel && panel.contains(active))
  ) {
    return true;
  }
  const editable =
    active.isContentEditable ||
    active.tagName === 'INPUT' ||
    active.tagName === 'TEXTAREA' ||
    active.tagName === 'SELECT';
  return !editable;
}

/** Progress: live steps, what it cost, questions to answer, how it ended, what next. */
export function ProgressSection(props: IProgressSectionProps): JSX.Element {
  const { trans, generation } = props;
  const p = generation.progress;
  const terminal = isTerminalStatus(p.status);
  const now = useTicker(!terminal, 250);
  const listRef = React.useRef<HTMLOListElement>(null);
  const sectionRef = React.useRef<HTMLElement>(null);
  const stick = React.useRef(true);
  const [attemptsOnly, setAttemptsOnly] = React.useState(false);
  const usesModel = p.usesModel;

  React.useEffect(() => setAttemptsOnly(false), [generation.id]);

  // A new question takes the focus when the panel shows (else the
  // notification and the sidebar badge say it waits).
  const asked = React.useRef<Set<string>>(new Set());
  const [focusId, setFocusId] = React.useState<string | null>(null);
  const questionIds = [
    ...p.approvals.map(a => a.approvalId),
    ...generation.pendingReplacements.map(r => `replace:${r.cellId}`)
  ];
  React.useEffect(() => {
    const fresh = questionIds.filter(id => !asked.current.has(id));
    fresh.forEach(id => asked.current.add(id));
    if (
      fresh.length > 0 &&
      props.isShown() &&
      mayTakeFocus(sectionRef.current?.closest('.jp-Cookbook-panel') ?? null)
    ) {
      setFocusId(fresh[0]);
    }
  }, [questionIds.join(',')]);

  let elapsed = 0;
  if (p.startedAt !== undefined) {
    const end = p.finishedAt ?? now / 1000 - (generation.clockOffset ?? 0);
    elapsed = Math.max(0, end - p.startedAt);
  }

  React.useLayoutEffect(() => {
    const list = listRef.current;
    if (list && stick.current && !attemptsOnly) {
      list.scrollTop = list.scrollHeight;
    }
  }, [p.steps.length, p.lastSeq, attemptsOnly]);

  const onScroll = () => {
    const list = listRef.current;
    if (list) {
      stick.current =
        list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    }
  };

  const onStep = async (step: INextStep) => {
    if (step.action === 'show_attempts') {
      setAttemptsOnly(true);
      requestAnimationFrame(() => {
        listRef.current?.scrollIntoView?.({ block: 'nearest' });
        listRef.current?.focus();
      });
      return;
    }
    await props.onNextStep(step);
  };

  const kept = p.validatedCells.length;
  const tokens = totalTokens(p.usage);
  const steps = attemptsOnly
    ? p.steps.filter(s => s.kind === 'error' || s.kind === 'fix')
    : p.steps;
  return (
    <section
      ref={sectionRef}
      className="jp-Cookbook-section jp-Cookbook-progress"
      aria-labelledby="jp-Cookbook-progress-title"
      data-generation-id={generation.id}
      data-status={p.status}
      data-uses-model={usesModel === false ? 'false' : 'true'}
    >
      <h3 id="jp-Cookbook-progress-title" className="jp-Cookbook-sectionTitle">
        {trans.__('Progress')}
      </h3>
      <p className="jp-Cookbook-srOnly" role="status" aria-live="polite">
        {progressSummary(trans, p)}
      </p>
      <div className="jp-Cookbook-row jp-Cookbook-progressHead">
        <span className="jp-Cookbook-status" data-status={p.status}>
          {statusLabel(trans, p.status)}
        </span>
        <span className="jp-Cookbook-spacer" />
        {!terminal && (
          <Button
            className="jp-Cookbook-cancel"
            onClick={props.onCancel}
            disabled={p.status === 'cancelling'}
            title={trans.__(
              'Stop this generation now; the cells that ran cleanly stay'
            )}
          >
            {trans.__('Cancel')}
          </Button>
        )}
        {terminal && kept > 0 && (
          <Button
            small
            minimal
            onClick={props.onDownload}
            title={trans.__('Download the validated notebook')}
          >
            {trans.__('Download .ipynb')}
          </Button>
        )}
        {props.onRemoveCells && (
          <Button
            small
            minimal
            className="jp-Cookbook-removeCells"
            onClick={props.onRemoveCells}
            title={trans.__(
              'Take this generation’s cells out of the notebook (one undo step)'
            )}
          >
            {trans.__('Remove its cells')}
          </Button>
        )}
      </div>
      {generation.path && (
        <div className="jp-Cookbook-target" title={generation.path}>
          {trans.__('Into %1', basename(generation.path))}
        </div>
      )}
      {generation.parentId && (
        <div className="jp-Cookbook-muted jp-Cookbook-parent">
          {trans.__('A follow-up.')}{' '}
          <button
            type="button"
            className="jp-Cookbook-link"
            onClick={() => props.onOpen(generation.parentId!)}
          >
            {trans.__('Show the generation it continues')}
          </button>
        </div>
      )}
      <div className="jp-Cookbook-stats" aria-label={trans.__('Statistics')}>
        <span>
          {trans.__('Elapsed')}{' '}
          <b className="jp-Cookbook-elapsed">{formatDuration(elapsed)}</b>
        </span>
        {usesModel !== false && (
          <>
            <span>
              {trans.__('Tokens')}{' '}
              <b className="jp-Cookbook-tokens">{tokens.toLocaleString()}</b>
            </span>
            <span>
              {trans.__('Cost')}{' '}
              <b className="jp-Cookbook-cost">{formatCost(p.usage.cost_usd)}</b>
            </span>
          </>
        )}
        {usesModel === false && p.cellsWritten > 0 && (
          <span>
            {trans.__('Snippets tried')}{' '}
            <b className="jp-Cookbook-snippets">{p.cellsWritten}</b>
          </span>
        )}
        <span>
          {trans.__('Cells kept')} <b className="jp-Cookbook-kept">{kept}</b>
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
      {p.approvals.map(approval => (
        <ApprovalCard
          key={approval.approvalId}
          trans={trans}
          approval={approval}
          autoFocus={focusId === approval.approvalId}
          onAnswer={(approved, trust) =>
            props.onApprove(approval, approved, trust)
          }
        />
      ))}
      {generation.pendingReplacements.map(replacement => (
        <ReplacementCard
          key={replacement.cellId}
          trans={trans}
          replacement={replacement}
          autoFocus={focusId === `replace:${replacement.cellId}`}
          onAnswer={decision =>
            props.onReplacement(replacement.cellId, decision)
          }
        />
      ))}
      {terminal && (
        <Outcome
          trans={trans}
          progress={p}
          providers={props.providers}
          onStep={onStep}
        />
      )}
      {attemptsOnly && (
        <div className="jp-Cookbook-row">
          <span className="jp-Cookbook-muted" data-grow="true">
            {trans.__('Showing the failed attempts and their fixes only.')}
          </span>
          <Button small minimal onClick={() => setAttemptsOnly(false)}>
            {trans.__('Show every step')}
          </Button>
        </div>
      )}
      <ol
        className="jp-Cookbook-steps"
        ref={listRef}
        onScroll={onScroll}
        aria-label={
          attemptsOnly ? trans.__('Failed attempts') : trans.__('Steps')
        }
        tabIndex={0}
      >
        {steps.length === 0 && (
          <li className="jp-Cookbook-step" data-kind="info">
            <span className="jp-Cookbook-stepIcon" aria-hidden="true">
              •
            </span>
            <span className="jp-Cookbook-stepText">
              {attemptsOnly
                ? trans.__('No attempt failed.')
                : trans.__('Waiting for the first step…')}
            </span>
          </li>
        )}
        {steps.map(step => (
          <li key={step.key} className="jp-Cookbook-step" data-kind={step.kind}>
            <span className="jp-Cookbook-stepIcon" aria-hidden="true">
              {ICONS[step.kind]}
            </span>
            <span className="jp-Cookbook-stepText">
              {stepText(trans, step, usesModel)}
              {step.detail && (
                <span className="jp-Cookbook-stepDetail">{step.detail}</span>
              )}
            </span>
          </li>
        ))}
      </ol>
      {terminal && (
        <FollowUpBox
          trans={trans}
          parentId={generation.id}
          onSubmit={props.onFollowUp}
          blocker={props.followUpBlocker}
        />
      )}
    </section>
  );
}
