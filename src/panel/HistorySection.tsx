import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IGeneration } from '../api';
import type { ICookbook } from '../tokens';
import { statusLabel } from './ProgressSection';
import { toDate } from './format';

export interface IHistorySectionProps {
  model: ICookbook;
  trans: TranslationBundle;
  /** Changes whenever a generation starts or ends, to refresh the list. */
  refreshKey: string;
  selectedId: string | null;
  onOpen: (id: string) => void;
  onDownload: (id: string) => void;
  /** Insert the generation's cells into the current notebook; null when none is open. */
  onInsert: ((id: string) => void) | null;
}

function requestSummary(g: IGeneration): string {
  const prompt = typeof g.request?.prompt === 'string' ? g.request.prompt : '';
  return prompt || g.id.slice(0, 8);
}

function cellCount(g: IGeneration): number | null {
  if (Array.isArray(g.cells)) {
    return g.cells.length;
  }
  return typeof g.cells === 'number' ? g.cells : null;
}

/** History: past generations with their status; open, download, insert again. */
export function HistorySection(props: IHistorySectionProps): JSX.Element {
  const { model, trans } = props;
  const [items, setItems] = React.useState<IGeneration[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [reload, setReload] = React.useState(0);

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
      {items && items.length > 0 && (
        <ul className="jp-Cookbook-history">
          {items.map(g => {
            const created = toDate(g.created_at ?? null);
            const count = cellCount(g);
            return (
              <li
                key={g.id}
                className="jp-Cookbook-historyItem"
                data-generation-id={g.id}
                aria-current={g.id === props.selectedId ? 'true' : undefined}
              >
                <div className="jp-Cookbook-historyTitle">
                  <span className="jp-Cookbook-status" data-status={g.status}>
                    {statusLabel(trans, g.status)}
                  </span>
                  <span
                    className="jp-Cookbook-historyPrompt"
                    title={requestSummary(g)}
                  >
                    {requestSummary(g)}
                  </span>
                </div>
                <div className="jp-Cookbook-muted">
                  {created ? created.toLocaleString() : ''}
                  {count !== null
                    ? ` · ${trans._n('%1 cell', '%1 cells', count)}`
                    : ''}
                </div>
                <div className="jp-Cookbook-historyActions">
                  <Button
                    small
                    minimal
                    onClick={() => props.onOpen(g.id)}
                    title={trans.__('Show its steps')}
                  >
                    {trans.__('Open')}
                  </Button>
                  <Button
                    small
                    minimal
                    onClick={() => props.onDownload(g.id)}
                    title={trans.__('Download its .ipynb')}
                  >
                    {trans.__('Download')}
                  </Button>
                  <Button
                    small
                    minimal
                    disabled={!props.onInsert}
                    onClick={() => props.onInsert?.(g.id)}
                    title={
                      props.onInsert
                        ? trans.__('Insert its cells into the current notebook')
                        : trans.__('Open a notebook to insert cells')
                    }
                  >
                    {trans.__('Insert again')}
                  </Button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
