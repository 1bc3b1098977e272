import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IGeneration } from '../api';
import {
  canRunAgain,
  cellsCount,
  historyPrompt,
  historyRepo,
  historyRecipeHash,
  historyTemplate,
  historyThreads,
  historyVerification,
  IVersionUnavailable,
  versionUnavailable
} from '../history';
import type { ICookbook } from '../tokens';
import { shortTime, toDate } from './format';
import { verificationText } from './Outcome';
import { statusLabel } from './ProgressSection';

export interface IHistorySectionProps {
  model: ICookbook;
  trans: TranslationBundle;
  /** Changes whenever a generation starts or ends, to refresh the list. */
  refreshKey: string;
  selectedId: string | null;
  onOpen: (id: string) => void;
  onDownload: (id: string) => void;
  /**
   * Insert the generation's cells into the current notebook, with or without
   * their outputs; null when no notebook is open.
   */
  onInsert: ((id: string, outputs: 'keep' | 'clear') => void) | null;
  /**
   * Start the generation again into the current notebook (`templateVersion`:
   * with that version of its recipe); rejects with the server's refusal.
   * Null when no notebook is open.
   */
  onRunAgain?: ((id: string, templateVersion?: string) => Promise<void>) | null;
  /** Why "Run again" cannot start now (e.g. a generation runs in the notebook). */
  runAgainBlocker?: string | null;
}

/** An entry's "Run again" as it goes: starting, refused, or its recipe version gone. */
type RunAgainState =
  | { id: string; phase: 'starting' }
  | { id: string; phase: 'failed'; message: string }
  | { id: string; phase: 'version'; gone: IVersionUnavailable };

/** What the history says when the recipe version a generation used is gone. */
export function versionGoneText(
  trans: TranslationBundle,
  gone: IVersionUnavailable
): string {
  return gone.current
    ? trans.__(
        'Version %1 of recipe %2 is no longer available; run with %3?',
        gone.version,
        gone.template,
        gone.current
      )
    : trans.__(
        'Version %1 of recipe %2 is no longer available.',
        gone.version,
        gone.template
      );
}

/** History: past generations as threads; open, download, insert or run again. */
export function HistorySection(props: IHistorySectionProps): JSX.Element {
  const { model, trans } = props;
  const [items, setItems] = React.useState<IGeneration[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [reload, setReload] = React.useState(0);
  const [inserting, setInserting] = React.useState<string | null>(null);
  const [again, setAgain] = React.useState<RunAgainState | null>(null);

  const runAgain = async (id: string, templateVersion?: string) => {
    if (!props.onRunAgain) {
      return;
    }
    setAgain({ id, phase: 'starting' });
    try {
      await props.onRunAgain(id, templateVersion);
      setAgain(null);
    } catch (err) {
      const gone = versionUnavailable(err);
      setAgain(
        gone
          ? { id, phase: 'version', gone }
          : { id, phase: 'failed', message: errorMessage(err) }
      );
    }
  };
  const runAgainOff = !props.onRunAgain
    ? trans.__('Open a notebook to run it again in')
    : (props.runAgainBlocker ?? null);

  React.useEffect(() => {
    const controller = new AbortController();
    model
      .history(controller.signal)
      .then(list => {
        setItems(list);
        setError(null);
      })
      .catch(err => {
        if (!controller.signal.aborted) {
          setError(errorMessage(err));
        }
      });
    return () => controller.abort();
  }, [model, props.refreshKey, reload]);

  const entries = React.useMemo(
    () => (items ? historyThreads(items) : []),
    [items]
  );

  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-historySection"
      aria-labelledby="jp-Cookbook-history-title"
    >
      <div className="jp-Cookbook-row">
        <h3
          id="jp-Cookbook-history-title"
          className="jp-Cookbook-sectionTitle"
          data-grow="true"
        >
          {trans.__('History')}
        </h3>
        <Button
          small
          minimal
          onClick={() => setReload(r => r + 1)}
          title={trans.__('Refresh the history')}
        >
          {trans.__('Refresh')}
        </Button>
      </div>
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
      {items && items.length === 0 && (
        <p className="jp-Cookbook-muted">{trans.__('No generations yet.')}</p>
      )}
      {entries.length > 0 && (
        <ul className="jp-Cookbook-history">
          {entries.map(({ generation: g, depth }) => {
            const created = toDate(g.created_at ?? null);
            const when = created ? shortTime(created) : '';
            const count = cellsCount(g);
            const verification = historyVerification(g);
            const prompt = historyPrompt(g);
            const repo = historyRepo(g);
            const template = historyTemplate(g);
            // Distinct names: the prompt and the time say which entry.
            const which = when
              ? trans.__('“%1” (%2)', prompt, when)
              : trans.__('“%1”', prompt);
            const hasCells = count === null || count > 0;
            const meta = [
              repo,
              template,
              when,
              count !== null ? trans._n('%1 cell', '%1 cells', count) : ''
            ].filter(Boolean);
            return (
              <li
                key={g.id}
                className="jp-Cookbook-historyItem"
                data-generation-id={g.id}
                data-depth={depth}
                style={
                  depth > 0
                    ? { marginInlineStart: `${Math.min(depth, 4) * 12}px` }
                    : undefined
                }
                aria-current={g.id === props.selectedId ? 'true' : undefined}
              >
                <div className="jp-Cookbook-historyTitle">
                  {depth > 0 && (
                    <span
                      className="jp-Cookbook-threadMark"
                      title={trans.__('A follow-up')}
                    >
                      <span aria-hidden="true">↳ </span>
                      <span className="jp-Cookbook-srOnly">
                        {trans.__('Follow-up:')}
                      </span>
                    </span>
                  )}
                  <span className="jp-Cookbook-status" data-status={g.status}>
                    {statusLabel(trans, g.status)}
                  </span>
                  <span className="jp-Cookbook-historyPrompt" title={prompt}>
                    {prompt}
                  </span>
                </div>
                <div
                  className="jp-Cookbook-muted jp-Cookbook-historyMeta"
                  title={
                    historyRecipeHash(g)
                      ? trans.__(
                          'Recipe %1, instructions sha256 %2',
                          template,
                          historyRecipeHash(g)
                        )
                      : undefined
                  }
                >
                  {meta.join(' · ')}
                </div>
                {verification && (
                  <div
                    className="jp-Cookbook-verification"
                    data-status={verification.status}
                  >
                    {verificationText(trans, verification, () => undefined)}
                  </div>
                )}
                <div className="jp-Cookbook-historyActions">
                  <Button
                    small
                    minimal
                    onClick={() => props.onOpen(g.id)}
                    aria-label={trans.__('Open %1: its steps', which)}
                    title={trans.__('Show its steps and continue it')}
                  >
                    {trans.__('Open')}
                  </Button>
                  {hasCells && (
                    <Button
                      small
                      minimal
                      onClick={() => props.onDownload(g.id)}
                      aria-label={trans.__('Download %1 as .ipynb', which)}
                      title={trans.__('Download its .ipynb')}
                    >
                      {trans.__('Download')}
                    </Button>
                  )}
                  {hasCells && (
                    <Button
                      small
                      minimal
                      disabled={!props.onInsert}
                      aria-expanded={inserting === g.id}
                      aria-label={trans.__(
                        'Insert again: %1, into the current notebook',
                        which
                      )}
                      onClick={() =>
                        setInserting(current =>
                          current === g.id ? null : g.id
                        )
                      }
                      title={
                        props.onInsert
                          ? trans.__(
                              'Insert its cells into the current notebook'
                            )
                          : trans.__('Open a notebook to insert cells')
                      }
                    >
                      {trans.__('Insert again')}
                    </Button>
                  )}
                  {canRunAgain(g) && (
                    <Button
                      small
                      minimal
                      disabled={
                        runAgainOff !== null || again?.phase === 'starting'
                      }
                      aria-label={trans.__(
                        'Run again: %1, into the current notebook',
                        which
                      )}
                      onClick={() => void runAgain(g.id)}
                      title={
                        runAgainOff ??
                        trans.__(
                          'Start it again with the same recipe version and inputs, into the current notebook'
                        )
                      }
                    >
                      {again?.id === g.id && again.phase === 'starting'
                        ? trans.__('Starting…')
                        : trans.__('Run again')}
                    </Button>
                  )}
                </div>
                {again?.id === g.id && again.phase === 'failed' && (
                  <div className="jp-Cookbook-error" role="alert">
                    {again.message}
                  </div>
                )}
                {again?.id === g.id && again.phase === 'version' && (
                  <div
                    className="jp-Cookbook-notice jp-Cookbook-versionGone"
                    role="alert"
                  >
                    {versionGoneText(trans, again.gone)}
                    <div className="jp-Cookbook-row">
                      {again.gone.current && (
                        <Button
                          small
                          className="jp-Cookbook-accent"
                          disabled={runAgainOff !== null}
                          aria-label={trans.__(
                            'Run %1 again with version %2 of %3',
                            which,
                            again.gone.current,
                            again.gone.template
                          )}
                          onClick={() =>
                            void runAgain(g.id, again.gone.current ?? undefined)
                          }
                        >
                          {trans.__('Run with %1', again.gone.current)}
                        </Button>
                      )}
                      <Button small minimal onClick={() => setAgain(null)}>
                        {trans.__('Not now')}
                      </Button>
                    </div>
                  </div>
                )}
                {inserting === g.id && props.onInsert && (
                  <div
                    className="jp-Cookbook-row jp-Cookbook-insertChoice"
                    role="group"
                    aria-label={trans.__('How to insert %1', which)}
                  >
                    <Button
                      small
                      onClick={() => {
                        setInserting(null);
                        props.onInsert?.(g.id, 'keep');
                      }}
                      title={trans.__(
                        'Its outputs come along, marked as from the original run'
                      )}
                    >
                      {trans.__('With its outputs')}
                    </Button>
                    <Button
                      small
                      onClick={() => {
                        setInserting(null);
                        props.onInsert?.(g.id, 'clear');
                      }}
                      title={trans.__('Clean cells, ready to run')}
                    >
                      {trans.__('Without outputs')}
                    </Button>
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
