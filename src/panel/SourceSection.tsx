import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CookbookAPI, errorMessage, IRepoSummary, isAbortError } from '../api';
import { describeDependencies, describeWarnings, shortCommit } from './format';

export interface ISourceSectionProps {
  api: CookbookAPI;
  trans: TranslationBundle;
  repo: IRepoSummary | null;
  onRepo: (repo: IRepoSummary | null) => void;
  /** Called when the user picks one of the Hugging Face ids the repo mentions. */
  onPickModel?: (modelId: string) => void;
  /** The model currently chosen, to mark it in the list. */
  selectedModel?: string;
}

/**
 * Source: a GitHub URL or a folder under the Jupyter root, ingested on
 * demand, and what the server found in it.
 */
export function SourceSection(props: ISourceSectionProps): JSX.Element {
  const { api, trans, repo, onRepo } = props;
  const [source, setSource] = React.useState(repo?.source ?? '');
  const [ref, setRef] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [recent, setRecent] = React.useState<IRepoSummary[]>([]);
  const abortRef = React.useRef<AbortController | null>(null);

  React.useEffect(() => {
    const controller = new AbortController();
    api
      .listRepos(controller.signal)
      .then(setRecent)
      .catch(() => {
        // The list is a convenience; ingesting still works without it.
      });
    return () => controller.abort();
  }, [api, repo?.id]);

  React.useEffect(() => () => abortRef.current?.abort(), []);

  // A repository restored after a reload fills an empty source field.
  React.useEffect(() => {
    if (repo && !source) {
      setSource(repo.source);
    }
  }, [repo?.id]);

  const ingest = async (event?: React.FormEvent) => {
    event?.preventDefault();
    const value = source.trim();
    if (!value || busy) {
      return;
    }
    abortRef.current?.abort();
    const controller = new AbortController();
    abortRef.current = controller;
    setBusy(true);
    setError(null);
    try {
      const summary = await api.ingest(
        value,
        ref.trim() || undefined,
        controller.signal
      );
      onRepo(summary);
    } catch (err) {
      if (!isAbortError(err)) {
        setError(errorMessage(err));
      }
    } finally {
      if (abortRef.current === controller) {
        setBusy(false);
      }
    }
  };

  const pickRecent = async (id: string) => {
    if (!id) {
      return;
    }
    setError(null);
    try {
      const summary = await api.getRepo(id);
      setSource(summary.source);
      onRepo(summary);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-source"
      aria-labelledby="jp-Cookbook-source-title"
    >
      <h3 id="jp-Cookbook-source-title" className="jp-Cookbook-sectionTitle">
        {trans.__('Source')}
      </h3>
      <form className="jp-Cookbook-form" onSubmit={ingest}>
        <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-source-input">
          {trans.__('GitHub URL or folder under the Jupyter root')}
        </label>
        <input
          id="jp-Cookbook-source-input"
          className="jp-mod-styled jp-Cookbook-input"
          type="text"
          value={source}
          placeholder={trans.__(
            'https://github.com/owner/repo or path/to/folder'
          )}
          onChange={e => setSource(e.target.value)}
          disabled={busy}
          spellCheck={false}
          autoComplete="off"
        />
        <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-ref-input">
          {trans.__('Branch, tag or commit (optional)')}
        </label>
        <div className="jp-Cookbook-row">
          <input
            id="jp-Cookbook-ref-input"
            className="jp-mod-styled jp-Cookbook-input"
            type="text"
            value={ref}
            placeholder={trans.__('default branch')}
            onChange={e => setRef(e.target.value)}
            disabled={busy}
            spellCheck={false}
            autoComplete="off"
          />
          <Button
            type="submit"
            className="jp-Cookbook-accent jp-Cookbook-ingestButton"
            disabled={busy || !source.trim()}
            minimal={false}
          >
            {busy ? trans.__('Ingesting…') : trans.__('Ingest')}
          </Button>
        </div>
        {recent.length > 0 && (
          <>
            <label
              className="jp-Cookbook-label"
              htmlFor="jp-Cookbook-recent-select"
            >
              {trans.__('Or reuse an ingested repository')}
            </label>
            <select
              id="jp-Cookbook-recent-select"
              className="jp-mod-styled jp-Cookbook-select"
              value={repo?.id ?? ''}
              onChange={e => void pickRecent(e.target.value)}
              disabled={busy}
            >
              <option value="">{trans.__('— choose —')}</option>
              {recent.map(r => (
                <option key={r.id} value={r.id}>
                  {r.name}
                  {r.commit ? ` @ ${shortCommit(r.commit)}` : ''}
                </option>
              ))}
            </select>
          </>
        )}
      </form>
      {busy && (
        <p className="jp-Cookbook-muted" role="status">
          {trans.__('Reading the repository…')}
        </p>
      )}
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
      {repo && !busy && (
        <RepoSummaryView
          repo={repo}
          trans={trans}
          onPickModel={props.onPickModel}
          selectedModel={props.selectedModel}
        />
      )}
    </section>
  );
}

function RepoSummaryView(props: {
  repo: IRepoSummary;
  trans: TranslationBundle;
  onPickModel?: (modelId: string) => void;
  selectedModel?: string;
}): JSX.Element {
  const { repo, trans } = props;
  const deps = describeDependencies(repo.dependencies);
  const warnings = describeWarnings(repo.warnings);
  const examples = repo.examples ?? [];
  const hfIds = repo.hf_ids ?? [];
  const context = repo.context;
  return (
    <div className="jp-Cookbook-repo" data-repo-id={repo.id}>
      <div className="jp-Cookbook-repoHeader">
        <span className="jp-Cookbook-repoName">{repo.name}</span>
        {repo.commit && (
          <code className="jp-Cookbook-commit" title={repo.commit}>
            {shortCommit(repo.commit)}
          </code>
        )}
        {repo.ref && <span className="jp-Cookbook-tag">{repo.ref}</span>}
      </div>
      <dl className="jp-Cookbook-facts">
        <dt>{trans.__('Files')}</dt>
        <dd className="jp-Cookbook-filesCount">{repo.files_count ?? '–'}</dd>
        {context && (
          <>
            <dt>{trans.__('Context')}</dt>
            <dd className="jp-Cookbook-contextTokens">
              {trans.__(
                '%1 of %2 tokens',
                context.total_tokens.toLocaleString(),
                context.budget.toLocaleString()
              )}
            </dd>
          </>
        )}
      </dl>
      {warnings.length > 0 && (
        <ul className="jp-Cookbook-warnings" aria-label={trans.__('Warnings')}>
          {warnings.map((w, i) => (
            <li key={i} className="jp-Cookbook-warning">
              {w}
            </li>
          ))}
        </ul>
      )}
      <details className="jp-Cookbook-details" open={hfIds.length > 0}>
        <summary>
          {trans.__('Hugging Face models mentioned (%1)', hfIds.length)}
        </summary>
        {hfIds.length === 0 ? (
          <p className="jp-Cookbook-muted">{trans.__('None found.')}</p>
        ) : (
          <ul className="jp-Cookbook-list jp-Cookbook-hfIds">
            {hfIds.map(h => (
              <li key={h.id} className="jp-Cookbook-hfId">
                <span className="jp-Cookbook-mono">{h.id}</span>
                {h.count !== undefined && (
                  <span className="jp-Cookbook-muted"> ×{h.count}</span>
                )}
                {props.onPickModel && (
                  <Button
                    small
                    minimal
                    className="jp-Cookbook-pick"
                    aria-pressed={props.selectedModel === h.id}
                    title={trans.__('Use %1 as the model', h.id)}
                    onClick={() => props.onPickModel?.(h.id)}
                  >
                    {props.selectedModel === h.id
                      ? trans.__('Chosen')
                      : trans.__('Use')}
                  </Button>
                )}
              </li>
            ))}
          </ul>
        )}
      </details>
      <details className="jp-Cookbook-details">
        <summary>{trans.__('Examples (%1)', examples.length)}</summary>
        {examples.length === 0 ? (
          <p className="jp-Cookbook-muted">{trans.__('None found.')}</p>
        ) : (
          <ul className="jp-Cookbook-list jp-Cookbook-examples">
            {examples.map(ex => (
              <li key={ex.path}>
                <span className="jp-Cookbook-mono">{ex.path}</span>
                {ex.title && ex.title !== ex.path && (
                  <span className="jp-Cookbook-muted"> — {ex.title}</span>
                )}
              </li>
            ))}
          </ul>
        )}
      </details>
      <details className="jp-Cookbook-details">
        <summary>{trans.__('Dependencies (%1)', deps.length)}</summary>
        {deps.length === 0 ? (
          <p className="jp-Cookbook-muted">{trans.__('None found.')}</p>
        ) : (
          <ul className="jp-Cookbook-list jp-Cookbook-deps">
            {deps.map((d, i) => (
              <li key={i} className="jp-Cookbook-mono">
                {d}
              </li>
            ))}
          </ul>
        )}
      </details>
    </div>
  );
}
