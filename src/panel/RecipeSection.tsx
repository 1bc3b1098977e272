import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  Complexity,
  IModelSummary,
  IRecipe,
  IRecipeError,
  IStatus
} from '../api';
import {
  checkInputs,
  fieldValue,
  IInputProblem,
  IInputSpec,
  ownInputs,
  RecipeValue
} from '../recipeForm';
import type { IRecipeForm } from '../request';
import { useDebounced } from './hooks';
import { isSubmitKey } from './keys';

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
  /** Ctrl/Cmd+Enter in the prompt: generate. */
  onSubmit?: () => void;
  /** Recipe files the server could not load. */
  recipeErrors?: ReadonlyArray<IRecipeError>;
  /** Show what is wrong with the inputs (after a Generate that could not start). */
  showProblems?: boolean;
  /** Pick a file or folder under the Jupyter root (null: the user cancelled). */
  pickPath?: (() => Promise<string | null>) | null;
  /** Hugging Face model search, for model inputs. */
  searchModels?: (
    search: string,
    signal: AbortSignal
  ) => Promise<IModelSummary[]>;
}

/** The words for a refused input value. */
export function problemText(
  trans: TranslationBundle,
  input: IInputSpec,
  problem: IInputProblem
): string {
  const n = problem.limit ?? 0;
  switch (problem.kind) {
    case 'required':
      return trans.__('%1 is required.', input.label);
    case 'notNumber':
      return trans.__('%1 must be a number.', input.label);
    case 'tooSmall':
      return trans.__('%1 must be at least %2.', input.label, n);
    case 'tooLarge':
      return trans.__('%1 must be at most %2.', input.label, n);
    case 'tooShort':
      return trans._n(
        '%2 needs at least %1 character.',
        '%2 needs at least %1 characters.',
        n,
        input.label
      );
    case 'tooLong':
      return trans._n(
        '%2 takes at most %1 character.',
        '%2 takes at most %1 characters.',
        n,
        input.label
      );
    case 'tooFew':
      return trans._n(
        '%2 needs at least %1 item.',
        '%2 needs at least %1 items.',
        n,
        input.label
      );
    case 'tooMany':
      return trans._n(
        '%2 takes at most %1 item.',
        '%2 takes at most %1 items.',
        n,
        input.label
      );
    case 'notAChoice':
      return trans.__('Choose one of the offered values for %1.', input.label);
    case 'oneLine':
      return trans.__('%1 must be a single line.', input.label);
    default:
      return trans.__('%1 is not valid.', input.label);
  }
}

/** The label of an input the panel knows better words for. */
function inputLabel(trans: TranslationBundle, input: IInputSpec): string {
  if (input.label !== input.name) {
    return input.label;
  }
  switch (input.name) {
    case 'data_path':
      return trans.__('Your data: a file or folder under the Jupyter root');
    case 'compare_with':
      return trans.__('Compare with: a second model id or a setting');
    default:
      return input.label;
  }
}

interface IFieldProps {
  trans: TranslationBundle;
  input: IInputSpec;
  value: RecipeValue;
  problem: IInputProblem | null;
  onChange: (value: RecipeValue) => void;
  pickPath?: (() => Promise<string | null>) | null;
  searchModels?: (
    search: string,
    signal: AbortSignal
  ) => Promise<IModelSummary[]>;
}

/** One typed input of a recipe, as the form field its type calls for. */
function RecipeInputField(props: IFieldProps): JSX.Element {
  const { trans, input, value, problem } = props;
  const id = `jp-Cookbook-input-${input.name}`;
  const label = inputLabel(trans, input);
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const described =
    [input.description ? helpId : '', problem ? errorId : '']
      .filter(Boolean)
      .join(' ') || undefined;
  const common = {
    id,
    'aria-describedby': described,
    'aria-invalid': problem ? true : undefined,
    'aria-required': input.required ? true : undefined
  };
  let field: JSX.Element;
  switch (input.type) {
    case 'boolean':
      field = (
        <div className="jp-Cookbook-checkRow">
          <input
            {...common}
            type="checkbox"
            checked={value === true}
            onChange={e => props.onChange(e.target.checked)}
          />
          <label htmlFor={id}>{label}</label>
        </div>
      );
      break;
    case 'number':
      field = (
        <input
          {...common}
          className="jp-mod-styled jp-Cookbook-input"
          type="number"
          inputMode="decimal"
          value={
            typeof value === 'number' ? String(value) : String(value ?? '')
          }
          min={input.min ?? undefined}
          max={input.max ?? undefined}
          onChange={e => props.onChange(e.target.value)}
        />
      );
      break;
    case 'text':
      field = (
        <textarea
          {...common}
          className="jp-mod-styled jp-Cookbook-textarea"
          rows={3}
          value={String(value ?? '')}
          onChange={e => props.onChange(e.target.value)}
        />
      );
      break;
    case 'choice':
      field = (
        <select
          {...common}
          className="jp-mod-styled jp-Cookbook-select"
          value={String(value ?? '')}
          onChange={e => props.onChange(e.target.value)}
        >
          {!input.required && <option value="">{trans.__('— none —')}</option>}
          {input.choices.map(choice => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
      );
      break;
    case 'array<string>':
      field = (
        <ListEditor
          trans={trans}
          id={id}
          label={label}
          items={Array.isArray(value) ? value : []}
          onChange={props.onChange}
          describedBy={described}
        />
      );
      break;
    case 'hf_model':
      field = (
        <ModelInput
          {...common}
          value={String(value ?? '')}
          onChange={props.onChange}
          searchModels={props.searchModels}
        />
      );
      break;
    default:
      field = (
        <div className="jp-Cookbook-row">
          <input
            {...common}
            className="jp-mod-styled jp-Cookbook-input"
            type="text"
            value={String(value ?? '')}
            onChange={e => props.onChange(e.target.value)}
            spellCheck={false}
            autoComplete="off"
          />
          {input.type === 'path' && props.pickPath && (
            <button
              type="button"
              className="jp-mod-styled jp-Cookbook-browse"
              aria-label={trans.__('Browse for %1', label)}
              onClick={() =>
                void props.pickPath!().then(path => {
                  if (path !== null) {
                    props.onChange(path);
                  }
                })
              }
            >
              {trans.__('Browse…')}
            </button>
          )}
        </div>
      );
  }
  return (
    <div
      className="jp-Cookbook-inputField"
      data-input={input.name}
      data-type={input.type}
    >
      {input.type !== 'boolean' && input.type !== 'array<string>' && (
        <label className="jp-Cookbook-label" htmlFor={id}>
          {label}
          {input.required ? ' *' : ''}
        </label>
      )}
      {input.type === 'array<string>' && (
        <span className="jp-Cookbook-label" id={`${id}-label`}>
          {label}
          {input.required ? ' *' : ''}
        </span>
      )}
      {field}
      {input.description && (
        <span id={helpId} className="jp-Cookbook-muted jp-Cookbook-hint">
          {input.description}
        </span>
      )}
      {problem && (
        <span id={errorId} className="jp-Cookbook-fieldError">
          {problemText(trans, input, problem)}
        </span>
      )}
    </div>
  );
}

/** A list of strings: one line each, added and removed with buttons. */
function ListEditor(props: {
  trans: TranslationBundle;
  id: string;
  label: string;
  items: string[];
  onChange: (items: string[]) => void;
  describedBy?: string;
}): JSX.Element {
  const { trans, items } = props;
  const set = (i: number, value: string) =>
    props.onChange(items.map((item, j) => (j === i ? value : item)));
  return (
    <div
      className="jp-Cookbook-listEditor"
      role="group"
      aria-labelledby={`${props.id}-label`}
      aria-describedby={props.describedBy}
    >
      <ul className="jp-Cookbook-listItems">
        {items.map((item, i) => (
          <li key={i} className="jp-Cookbook-row">
            <input
              className="jp-mod-styled jp-Cookbook-input"
              type="text"
              value={item}
              aria-label={trans.__('%1, item %2', props.label, i + 1)}
              onChange={e => set(i, e.target.value)}
            />
            <button
              type="button"
              className="jp-mod-styled jp-Cookbook-browse"
              aria-label={trans.__('Remove item %1 of %2', i + 1, props.label)}
              onClick={() => props.onChange(items.filter((_, j) => j !== i))}
            >
              {trans.__('Remove')}
            </button>
          </li>
        ))}
      </ul>
      <button
        type="button"
        className="jp-mod-styled jp-Cookbook-browse"
        id={props.id}
        onClick={() => props.onChange([...items, ''])}
      >
        {trans.__('Add an item')}
      </button>
    </div>
  );
}

/** A Hugging Face model id, with the Hub's matches as suggestions. */
function ModelInput(props: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  searchModels?: (
    search: string,
    signal: AbortSignal
  ) => Promise<IModelSummary[]>;
  'aria-describedby'?: string;
  'aria-invalid'?: boolean;
  'aria-required'?: boolean;
}): JSX.Element {
  const { searchModels } = props;
  const [options, setOptions] = React.useState<string[]>([]);
  const query = useDebounced(props.value.trim(), 300);
  React.useEffect(() => {
    if (!searchModels || query.length < 2) {
      setOptions([]);
      return;
    }
    const controller = new AbortController();
    searchModels(query, controller.signal)
      .then(models => setOptions(models.map(m => m.id).slice(0, 10)))
      .catch(() => setOptions([]));
    return () => controller.abort();
  }, [query, searchModels]);
  const listId = `${props.id}-models`;
  return (
    <>
      <input
        id={props.id}
        aria-describedby={props['aria-describedby']}
        aria-invalid={props['aria-invalid']}
        aria-required={props['aria-required']}
        className="jp-mod-styled jp-Cookbook-input"
        type="text"
        list={listId}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
        spellCheck={false}
        autoComplete="off"
      />
      <datalist id={listId}>
        {options.map(id => (
          <option key={id} value={id} />
        ))}
      </datalist>
    </>
  );
}

/** Recipe: prompt, template, topic, complexity, provider and model. */
export function RecipeSection(props: IRecipeSectionProps): JSX.Element {
  const { trans, form, onChange, recipes, status } = props;
  const set = <K extends keyof IRecipeForm>(key: K, value: IRecipeForm[K]) =>
    onChange({ ...form, [key]: value });
  const template = recipes?.find(r => r.id === form.template);
  const inputs = ownInputs(template);
  const problems = checkInputs(template, form.extras);
  const recipeErrors = props.recipeErrors ?? [];
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
          onKeyDown={e => {
            if (isSubmitKey(e) && props.onSubmit) {
              e.preventDefault();
              props.onSubmit();
            }
          }}
          aria-describedby="jp-Cookbook-prompt-hint"
          rows={3}
        />
        <span
          id="jp-Cookbook-prompt-hint"
          className="jp-Cookbook-muted jp-Cookbook-hint"
        >
          {trans.__('Ctrl+Enter (⌘+Enter on a Mac) generates.')}
        </span>
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
            {template.version && (
              <span className="jp-Cookbook-recipeVersion">
                {' '}
                {trans.__('(version %1)', template.version)}
              </span>
            )}
          </p>
        )}
        {recipeErrors.length > 0 && (
          <details className="jp-Cookbook-details jp-Cookbook-recipeErrors">
            <summary>
              {trans._n(
                '%1 recipe file could not be loaded',
                '%1 recipe files could not be loaded',
                recipeErrors.length
              )}
            </summary>
            <ul className="jp-Cookbook-list">
              {recipeErrors.map((e, i) => (
                <li key={i}>
                  <span className="jp-Cookbook-mono">
                    {e.line ? `${e.file}:${e.line}` : e.file}
                  </span>
                  <span>{e.message}</span>
                </li>
              ))}
            </ul>
          </details>
        )}
        {inputs.map(input => (
          <RecipeInputField
            key={`${form.template}:${input.name}`}
            trans={trans}
            input={input}
            value={fieldValue(input, form.extras)}
            problem={props.showProblems ? (problems[input.name] ?? null) : null}
            onChange={value =>
              onChange({
                ...form,
                extras: { ...(form.extras ?? {}), [input.name]: value }
              })
            }
            pickPath={props.pickPath}
            searchModels={props.searchModels}
          />
        ))}
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
