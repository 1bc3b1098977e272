import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IRepoSummary, isAbortError } from '../api';
import type { ICookbook } from '../tokens';
import {
  describeDependencies,
  describeWarnings,
  shortCommit,
  toDate
} from './format';

export interface ISourceSectionProps {
  model: ICookbook;
  trans: TranslationBundle;
  /** The repository chosen (its latest summary), if any. */
  repo: IRepoSummary | null;
  /** The user ingested or picked a repository. */
  onRepo: (repo: IRepoSummary) => void;
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
  const { model, trans, repo, onRepo } = props;
  const [source, setSource] = React.useState(repo?.source ?? '');
  const [ref, setRef] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const recent = model.repos;
  const abortRef = React.useRef<AbortController | null>(null);
  const [trustBusy, setTrustBusy] = React.useState(false);
  const [trustError, setTrustError] = React.useState<string | null>(null);

  React.useEffect(() => {
    const controller = new AbortController();
    model.refreshRepos(controller.signal).catch(() => {
      // The list is a convenience; ingesting still works without it.
    });
    return () => controller.abort();
  }, [model, repo?.id]);

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
      const summary = await model.ingest(value, {
        ref: ref.trim() || undefined,
        signal: controller.signal
      });
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

  const setTrusted = async (trusted: boolean) => {
    if (!repo || trustBusy) {
      return;
    }
    setTrustBusy(true);
    setTrustError(null);
    try {
      // The model's repositories change: `repo` is the new summary.
      await model.trustRepo(repo.id, trusted);
    } catch (err) {
      setTrustError(errorMessage(err));
    } finally {
      setTrustBusy(false);
    }
  };

  React.useEffect(() => {
    setTrustError(null);
  }, [repo?.id]);

  const pickRecent = async (id: string) => {
    if (!id) {
      return;
    }
    setError(null);
    try {
      const summary = await model.getRepo(id);
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
          onTrust={trusted => void setTrusted(trusted)}
          trustBusy={trustBusy}
          trustError={trustError}
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
  onTrust: (trusted: boolean) => void;
  trustBusy: boolean;
  trustError: string | null;
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
      <TrustView
        repo={repo}
        trans={trans}
        onTrust={props.onTrust}
        busy={props.trustBusy}
        error={props.trustError}
      />
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

/**
 * Whether the user trusts the repository. Until they do, Cookbook asks before
 * running any code taken from it or its model card; one click trusts it.
 */
function TrustView(props: {
  repo: IRepoSummary;
  trans: TranslationBundle;
  onTrust: (trusted: boolean) => void;
  busy: boolean;
  error: string | null;
}): JSX.Element {
  const { repo, trans } = props;
  const trusted = repo.trusted === true;
  const since = trusted ? toDate(repo.trusted_at) : null;
  return (
    <div
      className="jp-Cookbook-trust"
      role="group"
      aria-label={trans.__('Trust in %1', repo.name)}
      data-trusted={trusted ? 'true' : 'false'}
    >
      <p id="jp-Cookbook-trust-state" className="jp-Cookbook-trustState">
        {trusted
          ? since
            ? trans.__(
                'Trusted since %1: its code runs under your usual approval setting.',
                since.toLocaleString()
              )
            : trans.__(
                'Trusted: its code runs under your usual approval setting.'
              )
          : trans.__('Not trusted: its code asks before it runs.')}
      </p>
      <Button
        small
        minimal={trusted}
        className="jp-Cookbook-trustButton"
        aria-describedby="jp-Cookbook-trust-state"
        disabled={props.busy}
        onClick={() => props.onTrust(!trusted)}
      >
        {trusted
          ? trans.__('Stop trusting')
          : trans.__('Trust this repository')}
      </Button>
      {props.error && (
        <div className="jp-Cookbook-error" role="alert">
          {props.error}
        </div>
      )}
    </div>
  );
}
