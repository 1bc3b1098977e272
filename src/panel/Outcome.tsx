import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { INextStep, IProviderInfo, IVerification } from '../api';
import type { IProgressState } from '../progress';
import { formatDuration } from './format';

/**
 * How a finished, failed or cancelled run ended, in one sentence; null while
 * it runs, or when it finished with cells and said nothing more.
 */
export function outcomeSentence(
  trans: TranslationBundle,
  p: IProgressState
): string | null {
  const kept = p.validatedCells.length;
  switch (p.status) {
    case 'failed':
      return p.cause || p.message || trans.__('The generation failed.');
    case 'finished':
      if (kept > 0) {
        return p.cause ?? null;
      }
      if (p.cause) {
        return p.cause;
      }
      return p.errors > 0
        ? trans._n(
            'No cell ran cleanly (%1 attempt failed), so nothing was added to the notebook.',
            'No cell ran cleanly (%1 attempts failed), so nothing was added to the notebook.',
            p.errors
          )
        : trans.__(
            'Nothing runnable was found, so nothing was added to the notebook.'
          );
    case 'cancelled':
      return kept > 0
        ? trans._n(
            'Cancelled: the %1 cell that ran cleanly stays in the notebook.',
            'Cancelled: the %1 cells that ran cleanly stay in the notebook.',
            kept
          )
        : trans.__('Cancelled before any cell ran cleanly.');
    case 'interrupted':
      return trans.__(
        'The server stopped during the run; the cells it validated are kept.'
      );
    default:
      return null;
  }
}

/**
 * What the user can do next, as buttons: the server's suggestions, else the
 * obvious ones (see the failed attempts; try a provider that uses a model).
 */
export function nextStepsFor(
  trans: TranslationBundle,
  p: IProgressState,
  providers: ReadonlyArray<IProviderInfo>
): INextStep[] {
  if (p.nextSteps.length > 0) {
    return p.nextSteps;
  }
  const empty = p.status === 'finished' && p.validatedCells.length === 0;
  if (p.status !== 'failed' && !empty) {
    return [];
  }
  const steps: INextStep[] = [];
  if (p.errors > 0) {
    steps.push({
      action: 'show_attempts',
      label: trans.__('Show the failed attempts')
    });
  }
  const current = p.provider;
  const modelProvider = providers.find(
    pr => pr.available && pr.uses_model !== false && pr.name !== current
  );
  if (modelProvider && (p.usesModel === false || current === 'offline')) {
    steps.push({
      action: 'try_provider',
      label: trans.__(
        'Try with %1',
        modelProvider.display_name || modelProvider.name
      ),
      provider: modelProvider.name
    });
  }
  return steps;
}

/** The fresh-kernel re-run in a sentence. */
export function verificationText(
  trans: TranslationBundle,
  v: IVerification,
  titleOf: (cellId: string) => string | undefined
): string {
  const seconds =
    typeof v.seconds === 'number' ? formatDuration(v.seconds) : null;
  switch (v.status) {
    case 'passed':
      return seconds
        ? trans.__('Re-runs cleanly in a fresh kernel (%1).', seconds)
        : trans.__('Re-runs cleanly in a fresh kernel.');
    case 'failed': {
      const error =
        v.error && typeof v.error === 'object'
          ? `${v.error.ename ?? 'Error'}: ${v.error.evalue ?? ''}`.trim()
          : v.error
            ? String(v.error)
            : '';
      const title = v.cell_id ? titleOf(v.cell_id) : undefined;
      const where = title
        ? trans.__('“%1”', title)
        : v.cell_id
          ? trans.__('cell %1', v.cell_id)
          : typeof v.failed_cell === 'number'
            ? trans.__('cell %1', v.failed_cell + 1)
            : trans.__('a cell');
      return error
        ? trans.__(
            'Does not re-run in a fresh kernel: %1 fails with %2.',
            where,
            error
          )
        : trans.__('Does not re-run in a fresh kernel: %1 fails.', where);
    }
    default:
      return v.reason
        ? trans.__('Not re-run in a fresh kernel: %1', v.reason)
        : trans.__('Not re-run in a fresh kernel.');
  }
}

export interface IOutcomeProps {
  trans: TranslationBundle;
  progress: IProgressState;
  providers: ReadonlyArray<IProviderInfo>;
  /** Act on a next step; resolves when done (rejects with what went wrong). */
  onStep: (step: INextStep) => Promise<void>;
}

/** The end of a run: its cause, the re-run check, and the next steps. */
export function Outcome(props: IOutcomeProps): JSX.Element | null {
  const { trans, progress: p } = props;
  const [busy, setBusy] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const sentence = outcomeSentence(trans, p);
  const steps = nextStepsFor(trans, p, props.providers);
  const verification = p.verification;
  if (!sentence && steps.length === 0 && !verification) {
    return null;
  }
  const bad =
    p.status === 'failed' ||
    (p.status === 'finished' && p.validatedCells.length === 0);
  const act = async (step: INextStep) => {
    setBusy(step.label);
    setError(null);
    try {
      await props.onStep(step);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="jp-Cookbook-outcome" data-bad={bad ? 'true' : 'false'}>
      {sentence && (
        <p
          className={
            bad ? 'jp-Cookbook-error jp-Cookbook-cause' : 'jp-Cookbook-cause'
          }
        >
          {sentence}
        </p>
      )}
      {verification && (
        <p
          className="jp-Cookbook-verification"
          data-status={verification.status}
        >
          <span aria-hidden="true">
            {verification.status === 'passed'
              ? '✓ '
              : verification.status === 'failed'
                ? '✗ '
                : '• '}
          </span>
          {verificationText(
            trans,
            verification,
            id => p.cellTitles[id] || undefined
          )}
        </p>
      )}
      {steps.length > 0 && (
        <div
          className="jp-Cookbook-row jp-Cookbook-nextSteps"
          role="group"
          aria-label={trans.__('Next steps')}
        >
          {steps.map((step, i) => (
            <Button
              key={`${step.action}-${i}`}
              small
              className={i === 0 ? 'jp-Cookbook-accent' : undefined}
              data-action={step.action}
              disabled={busy !== null}
              onClick={() => void act(step)}
            >
              {busy === step.label ? trans.__('Working…') : step.label}
            </Button>
          ))}
        </div>
      )}
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
    </div>
  );
}
