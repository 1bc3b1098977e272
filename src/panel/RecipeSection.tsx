import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { Complexity, IRecipe, IStatus } from '../api';
import { extraInputs, IRecipeForm } from '../request';

export interface IRecipeSectionProps {
  trans: TranslationBundle;
  form: IRecipeForm;
  onChange: (form: IRecipeForm) => void;
  recipes: ReadonlyArray<IRecipe> | null;
  status: IStatus | null;
  /** Why recipes or status could not be loaded. */
  error: string | null;
  promptRef?: React.RefObject<HTMLTextAreaElement>;
  /** Open the Secrets section to add a model API key. */
  onAddKey?: () => void;
}

/** Recipe: prompt, template, topic, complexity, provider and model. */
export function RecipeSection(props: IRecipeSectionProps): JSX.Element {
  const { trans, form, onChange, recipes, status } = props;
  const set = <K extends keyof IRecipeForm>(key: K, value: IRecipeForm[K]) =>
    onChange({ ...form, [key]: value });
  const template = recipes?.find(r => r.id === form.template);
  const providers = status?.providers ?? [];
  const provider = providers.find(
    p => p.name === (form.provider || status?.default_provider)
  );
  const complexities: Array<[Complexity, string]> = [
    ['basic', trans.__('Basic')],
    ['intermediate', trans.__('Intermediate')],
    ['advanced', trans.__('Advanced')]
  ];

  return (
    <section
      className="jp-Cookbook-section jp-Cookbook-recipe"
      aria-labelledby="jp-Cookbook-recipe-title"
    >
      <h3 id="jp-Cookbook-recipe-title" className="jp-Cookbook-sectionTitle">
        {trans.__('Recipe')}
      </h3>
      {props.error && (
        <div className="jp-Cookbook-error" role="alert">
          {props.error}
        </div>
      )}
      <div className="jp-Cookbook-form">
        <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-prompt">
          {trans.__('What should the notebook do?')}
        </label>
        <textarea
          id="jp-Cookbook-prompt"
          ref={props.promptRef}
          className="jp-mod-styled jp-Cookbook-textarea"
          value={form.prompt}
          placeholder={trans.__('e.g. Summarise German news articles')}
          onChange={e => set('prompt', e.target.value)}
          rows={3}
        />
        <div className="jp-Cookbook-grid">
          <div className="jp-Cookbook-field">
            <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-template">
              {trans.__('Template')}
            </label>
            <select
              id="jp-Cookbook-template"
              className="jp-mod-styled jp-Cookbook-select"
              value={form.template}
              onChange={e => set('template', e.target.value)}
              disabled={!recipes}
            >
              {!recipes && (
                <option value={form.template}>{trans.__('Loading…')}</option>
              )}
              {recipes && !template && (
                <option value={form.template}>{form.template}</option>
              )}
              {recipes?.map(r => (
                <option key={r.id} value={r.id} title={r.description}>
                  {r.title}
                </option>
              ))}
            </select>
          </div>
          <div className="jp-Cookbook-field">
            <label
              className="jp-Cookbook-label"
              htmlFor="jp-Cookbook-complexity"
            >
              {trans.__('Complexity')}
            </label>
            <select
              id="jp-Cookbook-complexity"
              className="jp-mod-styled jp-Cookbook-select"
              value={form.complexity}
              onChange={e => set('complexity', e.target.value as Complexity)}
            >
              {complexities.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </div>
        </div>
        {template?.description && (
          <p className="jp-Cookbook-muted jp-Cookbook-templateDescription">
            {template.description}
          </p>
        )}
        {extraInputs(template).map(input => {
          const name = input.name!;
          const id = `jp-Cookbook-extra-${name}`;
          const label =
            name === 'data_path'
              ? trans.__('Your data: a file or folder under the Jupyter root')
              : name === 'compare_with'
                ? trans.__('Compare with: a second model id or a setting')
                : String(input.title ?? name);
          return (
            <React.Fragment key={name}>
              <label className="jp-Cookbook-label" htmlFor={id}>
                {label}
                {input.required ? ' *' : ''}
              </label>
              <input
                id={id}
                className="jp-mod-styled jp-Cookbook-input"
                type="text"
                value={form.extras?.[name] ?? ''}
                title={
                  typeof input.description === 'string'
                    ? input.description
                    : undefined
                }
                onChange={e =>
                  onChange({
                    ...form,
                    extras: { ...(form.extras ?? {}), [name]: e.target.value }
                  })
                }
                spellCheck={false}
                autoComplete="off"
              />
            </React.Fragment>
          );
        })}
        <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-topic">
          {trans.__('Topic (optional)')}
        </label>
        <input
          id="jp-Cookbook-topic"
          className="jp-mod-styled jp-Cookbook-input"
          type="text"
          value={form.topic}
          placeholder={trans.__('e.g. product reviews')}
          onChange={e => set('topic', e.target.value)}
        />
        <div className="jp-Cookbook-grid">
          <div className="jp-Cookbook-field">
            <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-provider">
              {trans.__('Provider')}
            </label>
            <select
              id="jp-Cookbook-provider"
              className="jp-mod-styled jp-Cookbook-select"
              value={form.provider}
              onChange={e => set('provider', e.target.value)}
              disabled={!status}
            >
              <option value="">
                {status
                  ? trans.__('Default (%1)', status.default_provider)
                  : trans.__('Default')}
              </option>
              {providers.map(p => (
                <option key={p.name} value={p.name} disabled={!p.available}>
                  {p.available ? p.name : trans.__('%1 (no API key)', p.name)}
                </option>
              ))}
            </select>
          </div>
          <div className="jp-Cookbook-field">
            <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-llm">
              {trans.__('Model')}
            </label>
            <input
              id="jp-Cookbook-llm"
              className="jp-mod-styled jp-Cookbook-input"
              type="text"
              value={form.model}
              placeholder={provider?.default_model || trans.__('default')}
              onChange={e => set('model', e.target.value)}
              spellCheck={false}
              autoComplete="off"
              disabled={provider?.name === 'offline'}
            />
          </div>
        </div>
        {status && !status.api_key_configured && (
          <p className="jp-Cookbook-muted jp-Cookbook-noKey">
            {trans.__(
              'No model API key is configured: the offline provider builds the notebook from the repository’s own examples.'
            )}
            {props.onAddKey && (
              <>
                {' '}
                <button
                  type="button"
                  className="jp-Cookbook-link"
                  onClick={props.onAddKey}
                >
                  {trans.__('Add an API key')}
                </button>
              </>
            )}
          </p>
        )}
      </div>
    </section>
  );
}
