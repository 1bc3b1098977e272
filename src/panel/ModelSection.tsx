import type { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { errorMessage, IModelInfo, IModelSummary, isAbortError } from '../api';
import type { ICookbook } from '../tokens';
import { compactNumber } from './format';
import { useDebounced } from './hooks';

export interface IModelSectionProps {
  model: ICookbook;
  trans: TranslationBundle;
  /** The chosen model id ('' for none). */
  value: string;
  onChange: (modelId: string) => void;
  searchLimit: number;
}

/**
 * Hugging Face model: search as you type (debounced), with downloads, likes,
 * task and license; the chosen model's card summary.
 */
export function ModelSection(props: IModelSectionProps): JSX.Element {
  const { model, trans, value, onChange, searchLimit } = props;
  const [query, setQuery] = React.useState('');
  const debounced = useDebounced(query.trim(), 350);
  const [results, setResults] = React.useState<IModelSummary[]>([]);
  const [searching, setSearching] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const listRef = React.useRef<HTMLUListElement>(null);

  React.useEffect(() => {
    if (debounced.length < 2) {
      setResults([]);
      setError(null);
      setSearching(false);
      return;
    }
    const controller = new AbortController();
    setSearching(true);
    setError(null);
    model
      .searchModels(
        { search: debounced, limit: searchLimit },
        controller.signal
      )
      .then(models => {
        setResults(models);
        setSearching(false);
      })
      .catch(err => {
        if (!isAbortError(err)) {
          setError(errorMessage(err));
          setResults([]);
          setSearching(false);
        }
      });
    return () => controller.abort();
  }, [model, debounced, searchLimit]);

  const choose = (id: string) => {
    onChange(id);
    setQuery('');
    setResults([]);
  };

  const onListKey = (
    event: React.KeyboardEvent<HTMLLIElement>,
    index: number,
    id: string
  ) => {
    const items =
      listRef.current?.querySelectorAll<HTMLLIElement>('[role="option"]');
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      choose(id);
    } else if (event.key === 'ArrowDown' && items) {
      event.preventDefault();
      items[Math.min(items.length - 1, index + 1)]?.focus();
    } else if (event.key === 'ArrowUp' && items) {
      event.preventDefault();
      if (index === 0) {
        document.getElementById('jp-Cookbook-model-search')?.focus();
      } else {
        items[index - 1]?.focus();
      }
    }
  };

  const onSearchKey = (event: React.KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'ArrowDown') {
      const first =
        listRef.current?.querySelector<HTMLLIElement>('[role="option"]');
      if (first) {
        event.preventDefault();
        first.focus();
      }
    } else if (event.key === 'Escape') {
      setQuery('');
    }
  };

  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-modelSection"
      aria-labelledby="jp-Cookbook-model-title"
    >
      <h3 id="jp-Cookbook-model-title" className="jp-Cookbook-sectionTitle">
        {trans.__('Hugging Face model')}
      </h3>
      <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-model-search">
        {trans.__('Search models')}
      </label>
      <input
        id="jp-Cookbook-model-search"
        className="jp-mod-styled jp-Cookbook-input"
        type="search"
        role="combobox"
        aria-expanded={results.length > 0}
        aria-controls="jp-Cookbook-model-results"
        aria-autocomplete="list"
        value={query}
        placeholder={trans.__('e.g. sentiment, bert, whisper')}
        onChange={e => setQuery(e.target.value)}
        onKeyDown={onSearchKey}
        spellCheck={false}
        autoComplete="off"
      />
      {searching && (
        <p className="jp-Cookbook-muted" role="status">
          {trans.__('Searching…')}
        </p>
      )}
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
      {!searching &&
        !error &&
        debounced.length >= 2 &&
        results.length === 0 && (
          <p className="jp-Cookbook-muted">
            {trans.__('No models match “%1”.', debounced)}
          </p>
        )}
      {results.length > 0 && (
        <ul
          id="jp-Cookbook-model-results"
          className="jp-Cookbook-models"
          role="listbox"
          aria-label={trans.__('Models')}
          ref={listRef}
        >
          {results.map((m, i) => (
            <li
              key={m.id}
              role="option"
              tabIndex={0}
              aria-selected={m.id === value}
              className="jp-Cookbook-model"
              onClick={() => choose(m.id)}
              onKeyDown={e => onListKey(e, i, m.id)}
            >
              <div className="jp-Cookbook-modelId">{m.id}</div>
              <ModelMeta model={m} trans={trans} />
            </li>
          ))}
        </ul>
      )}
      {value && (
        <ModelCard
          model={model}
          trans={trans}
          modelId={value}
          onClear={() => onChange('')}
        />
      )}
    </section>
  );
}

function ModelMeta(props: {
  model: IModelSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  return (
    <div className="jp-Cookbook-modelMeta">
      <span title={trans.__('Downloads')}>
        {trans.__('↓ %1', compactNumber(model.downloads))}
      </span>
      <span title={trans.__('Likes')}>
        {trans.__('♥ %1', compactNumber(model.likes))}
      </span>
      {model.pipeline_tag && (
        <span title={trans.__('Task')}>{model.pipeline_tag}</span>
      )}
      {model.license && (
        <span title={trans.__('License')}>{model.license}</span>
      )}
      {model.library_name && (
        <span title={trans.__('Library')}>{model.library_name}</span>
      )}
    </div>
  );
}

function ModelCard(props: {
  model: ICookbook;
  trans: TranslationBundle;
  modelId: string;
  onClear: () => void;
}): JSX.Element {
  const { model, trans, modelId } = props;
  const [info, setInfo] = React.useState<IModelInfo | null>(null);
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    const controller = new AbortController();
    setInfo(null);
    setError(null);
    model
      .getModel(modelId, controller.signal)
      .then(setInfo)
      .catch(err => {
        if (!isAbortError(err)) {
          setError(errorMessage(err));
        }
      });
    return () => controller.abort();
  }, [model, modelId]);

  const card = info?.card;
  return (
    <div className="jp-Cookbook-card" aria-live="polite">
      <div className="jp-Cookbook-row">
        <span className="jp-Cookbook-modelId" data-grow="true">
          {modelId}
        </span>
        <Button
          small
          minimal
          onClick={props.onClear}
          title={trans.__('Use no model')}
        >
          {trans.__('Clear')}
        </Button>
      </div>
      {!info && !error && (
        <p className="jp-Cookbook-muted">
          {trans.__('Loading the model card…')}
        </p>
      )}
      {error && (
        <div className="jp-Cookbook-error" role="alert">
          {error}
        </div>
      )}
      {info && (
        <>
          <ModelMeta model={info} trans={trans} />
          {info.stale && (
            <p className="jp-Cookbook-muted">
              {trans.__('Cached details; the Hub could not be reached.')}
            </p>
          )}
          {card?.description && (
            <p className="jp-Cookbook-cardDescription">{card.description}</p>
          )}
          {card?.usage && (
            <details className="jp-Cookbook-details">
              <summary>{trans.__('Usage')}</summary>
              <pre>{card.usage}</pre>
            </details>
          )}
          {card?.limitations && (
            <details className="jp-Cookbook-details">
              <summary>{trans.__('Limitations')}</summary>
              <p>{card.limitations}</p>
            </details>
          )}
          {!card?.description && !card?.usage && (
            <p className="jp-Cookbook-muted">
              {trans.__('This model has no card summary.')}
            </p>
          )}
        </>
      )}
    </div>
  );
}
