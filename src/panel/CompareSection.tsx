import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  errorMessage,
  IComparison,
  IComparisonRun,
  IProviderInfo,
  isTerminalStatus
} from '../api';
import type { ICookbook, StartRequest } from '../tokens';
import { formatCost, formatDuration } from './format';
import { verificationText } from './Outcome';
import { statusLabel } from './ProgressSection';

/** How often a running comparison is asked for, ms. */
export const COMPARISON_POLL_MS = 1500;

/** Whether every run of a comparison has ended. */
export function comparisonDone(c: IComparison): boolean {
  return c.runs.length > 0 && c.runs.every(r => isTerminalStatus(r.status));
}

/** The run that did best: most cells, re-runs cleanly, then soonest. */
export function bestRun(c: IComparison): IComparisonRun | null {
  const done = c.runs.filter(r => r.cells_count > 0);
  if (done.length === 0) {
    return null;
  }
  const score = (r: IComparisonRun) => [
    r.verification?.status === 'passed' ? 1 : 0,
    r.cells_count,
    -(r.seconds_to_notebook ?? Infinity)
  ];
  return done.slice().sort((a, b) => {
    const [x, y] = [score(a), score(b)];
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== y[i]) {
        return y[i] - x[i];
      }
    }
    return a.index - b.index;
  })[0];
}

function runName(r: IComparisonRun): string {
  return r.model ? `${r.provider} · ${r.model}` : r.provider;
}

export interface ICompareSectionProps {
  model: ICookbook;
  trans: TranslationBundle;
  providers: ReadonlyArray<IProviderInfo>;
  /** The request the panel's form holds now, or why none can start. */
  request: () => StartRequest | string;
  /** Insert a run's cells into the current notebook; null when none is open. */
  onInsert: ((generationId: string) => void) | null;
}

/**
 * Compare: the same recipe run by 2 to 4 providers (each in a kernel of its
 * own), side by side; the user picks the one to insert.
 */
export function CompareSection(props: ICompareSectionProps): JSX.Element {
  const { model, trans } = props;
  const available = props.providers.filter(p => p.available);
  const [open, setOpen] = React.useState(false);
  const [chosen, setChosen] = React.useState<string[]>([]);
  const [id, setId] = React.useState<string | null>(null);
  const [detail, setDetail] = React.useState<IComparison | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState(false);

  React.useEffect(() => {
    if (!id) {
      return;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const poll = async () => {
      try {
        const c = await model.getComparison(id, controller.signal);
        setDetail(c);
        if (!comparisonDone(c)) {
          timer = setTimeout(() => void poll(), COMPARISON_POLL_MS);
        }
      } catch (err) {
        if (!controller.signal.aborted) {
          setError(errorMessage(err));
        }
      }
    };
    void poll();
    return () => {
      controller.abort();
      if (timer) {
        clearTimeout(timer);
      }
    };
  }, [id, model]);

  const start = async () => {
    const request = props.request();
    if (typeof request === 'string') {
      setError(request);
      return;
    }
    setBusy(true);
    setError(null);
    setDetail(null);
    try {
      const started = await model.startComparison(
        request,
        chosen.map(provider => ({ provider }))
      );
      setId(started.id);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const best = detail && comparisonDone(detail) ? bestRun(detail) : null;
  const toggle = (name: string, on: boolean) =>
    setChosen(c =>
      on ? [...c.filter(n => n !== name), name] : c.filter(n => n !== name)
    );

  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-compare"
      aria-labelledby="jp-Cookbook-compare-title"
    >
      <h3 id="jp-Cookbook-compare-title" className="jp-Cookbook-sectionTitle">
        <button
          type="button"
          className="jp-Cookbook-disclosure"
          aria-expanded={open}
          aria-controls="jp-Cookbook-compare-body"
          onClick={() => setOpen(o => !o)}
        >
          {trans.__('Compare runs')}
        </button>
      </h3>
      {open && (
        <div id="jp-Cookbook-compare-body">
          <fieldset className="jp-Cookbook-consent">
            <legend className="jp-Cookbook-label">
              {trans.__('Run the recipe with (2 to 4):')}
            </legend>
            {available.map(p => (
              <div key={p.name} className="jp-Cookbook-checkRow">
                <input
                  id={`jp-Cookbook-compare-${p.name}`}
                  type="checkbox"
                  checked={chosen.includes(p.name)}
                  disabled={!chosen.includes(p.name) && chosen.length >= 4}
                  onChange={e => toggle(p.name, e.target.checked)}
                />
                <label htmlFor={`jp-Cookbook-compare-${p.name}`}>
                  {p.display_name || p.name}
                </label>
              </div>
            ))}
          </fieldset>
          <Button
            small
            className="jp-Cookbook-accent"
            disabled={busy || chosen.length < 2}
            onClick={() => void start()}
          >
            {busy
              ? trans.__('Starting…')
              : trans._n('Compare %1 run', 'Compare %1 runs', chosen.length)}
          </Button>
          {error && (
            <div className="jp-Cookbook-error" role="alert">
              {error}
            </div>
          )}
          {detail && (
            <ul
              className="jp-Cookbook-runs"
              aria-label={trans.__('The runs, side by side')}
            >
              {detail.runs.map(r => {
                const tokens = Object.values(r.tokens ?? {}).reduce(
                  (a, b) => a + (Number(b) || 0),
                  0
                );
                return (
                  <li
                    key={r.index}
                    className="jp-Cookbook-run"
                    data-status={r.status}
                    data-best={best?.index === r.index ? 'true' : 'false'}
                  >
                    <div className="jp-Cookbook-runName">{runName(r)}</div>
                    <div className="jp-Cookbook-status" data-status={r.status}>
                      {statusLabel(trans, r.status)}
                      {best?.index === r.index ? ` · ${trans.__('best')}` : ''}
                    </div>
                    <div>{trans._n('%1 cell', '%1 cells', r.cells_count)}</div>
                    {r.verification && (
                      <div
                        className="jp-Cookbook-verification"
                        data-status={r.verification.status}
                      >
                        {verificationText(
                          trans,
                          r.verification,
                          () => undefined
                        )}
                      </div>
                    )}
                    {typeof r.seconds_to_notebook === 'number' && (
                      <div>
                        {trans.__(
                          'Notebook in %1',
                          formatDuration(r.seconds_to_notebook)
                        )}
                      </div>
                    )}
                    {tokens > 0 && (
                      <div className="jp-Cookbook-muted">
                        {trans.__(
                          '%1 tokens · %2',
                          tokens.toLocaleString(),
                          formatCost(r.cost_usd)
                        )}
                      </div>
                    )}
                    {r.message && (
                      <div className="jp-Cookbook-muted">{r.message}</div>
                    )}
                    {r.cells_count > 0 && isTerminalStatus(r.status) && (
                      <Button
                        small
                        disabled={!props.onInsert}
                        aria-label={trans.__(
                          'Insert the run of %1 into the current notebook',
                          runName(r)
                        )}
                        onClick={() => props.onInsert?.(r.generation_id)}
                      >
                        {trans.__('Insert this one')}
                      </Button>
                    )}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
