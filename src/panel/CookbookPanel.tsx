import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  CookbookAPI,
  errorMessage,
  IGenerationRequest,
  IRecipe,
  IRepoSummary,
  IStatus
} from '../api';
import { downloadNotebook } from '../download';
import { basename } from './format';
import type { Generation, GenerationManager } from '../generations';
import { isTerminalStatus } from '../progress';
import type { SettingsModel } from '../settings';
import type { INotebookHost } from '../tracker';
import { HistorySection } from './HistorySection';
import { useSignal } from './hooks';
import { loadInputs, saveInputs } from './persist';
import { ModelSection } from './ModelSection';
import { ProgressSection } from './ProgressSection';
import { extraInputs, IRecipeForm, RecipeSection } from './RecipeSection';
import { SecretsSection } from './SecretsSection';
import { SourceSection } from './SourceSection';

export interface ICookbookAppProps {
  api: CookbookAPI;
  trans: TranslationBundle;
  manager: GenerationManager;
  host: INotebookHost;
  settings: SettingsModel;
  /** Open a file in the application (to bring a closed target back). */
  openPath: (path: string) => void;
  /** Emitted by the "generate" command. */
  generateRequested: Signal<any, void>;
}

/** The template's extra inputs the user filled in, as request fields. */
function extrasFor(
  recipe: IRecipe | undefined,
  form: IRecipeForm
): Pick<IGenerationRequest, 'data_path' | 'compare_with'> {
  const out: Pick<IGenerationRequest, 'data_path' | 'compare_with'> = {};
  for (const input of extraInputs(recipe)) {
    const value = form.extras?.[input.name!]?.trim();
    if (
      value &&
      (input.name === 'data_path' || input.name === 'compare_with')
    ) {
      out[input.name] = value;
    }
  }
  return out;
}

/** Why Generate is disabled, or null when it is not. */
export function generateBlocker(
  trans: TranslationBundle,
  options: {
    hasNotebook: boolean;
    notebookReady: boolean;
    hasSource: boolean;
    prompt: string;
    runningHere: boolean;
    starting: boolean;
  }
): string | null {
  if (!options.hasNotebook) {
    return trans.__('Open a notebook: the cells go into the active notebook.');
  }
  if (!options.notebookReady) {
    return trans.__('The notebook is still loading.');
  }
  if (options.runningHere) {
    return trans.__('A generation is already running in this notebook.');
  }
  if (!options.hasSource) {
    return trans.__('Ingest a repository first.');
  }
  if (!options.prompt.trim()) {
    return trans.__('Describe what the notebook should do.');
  }
  if (options.starting) {
    return trans.__('Starting…');
  }
  return null;
}

export function CookbookApp(props: ICookbookAppProps): JSX.Element {
  const { api, trans, manager, host, settings } = props;
  useSignal(manager.changed);
  useSignal(host.currentChanged);
  useSignal(host.opened);
  useSignal(settings.changed);

  const [status, setStatus] = React.useState<IStatus | null>(null);
  const [recipes, setRecipes] = React.useState<IRecipe[] | null>(null);
  const [loadError, setLoadError] = React.useState<string | null>(null);
  const saved = React.useMemo(() => loadInputs(), []);
  const [repo, setRepo] = React.useState<IRepoSummary | null>(null);
  const [hfModel, setHfModel] = React.useState(saved?.hfModel ?? '');
  const [form, setForm] = React.useState<IRecipeForm>(() => ({
    prompt: '',
    template: settings.value.defaultTemplate,
    topic: '',
    complexity: settings.value.defaultComplexity,
    provider: settings.value.defaultProvider,
    model: '',
    extras: {},
    ...(saved?.form ?? {})
  }));

  // Bring back the repository ingested before a reload.
  React.useEffect(() => {
    if (!saved?.repoId) {
      return;
    }
    const controller = new AbortController();
    api
      .getRepo(saved.repoId, controller.signal)
      .then(r => setRepo(current => current ?? r))
      .catch(() => {
        /* gone from the server: the user ingests again */
      });
    return () => controller.abort();
  }, [api]);

  React.useEffect(() => {
    saveInputs({ repoId: repo?.id ?? null, hfModel, form });
  }, [repo?.id, hfModel, form]);
  const [selectedId, setSelectedId] = React.useState<string | null>(null);
  const [starting, setStarting] = React.useState(false);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);
  const promptRef = React.useRef<HTMLTextAreaElement>(null);
  const [secretsRequest, setSecretsRequest] = React.useState(0);

  // After a secret changes, the providers' keys may have: ask the server again.
  const refreshStatus = React.useCallback(() => {
    api
      .status()
      .then(setStatus)
      .catch(() => {
        /* the last answer stays; the next change asks again */
      });
  }, [api]);

  React.useEffect(() => {
    const controller = new AbortController();
    Promise.all([
      api.status(controller.signal),
      api.listRecipes(controller.signal)
    ])
      .then(([s, r]) => {
        setStatus(s);
        setRecipes(r);
        setLoadError(null);
        setForm(f => ({
          ...f,
          template: r.some(x => x.id === f.template)
            ? f.template
            : (r[0]?.id ?? f.template)
        }));
      })
      .catch(err => {
        if (!controller.signal.aborted) {
          setLoadError(
            trans.__(
              'The Cookbook server extension did not answer: %1',
              errorMessage(err)
            )
          );
        }
      });
    return () => controller.abort();
  }, [api]);

  const current = host.current();
  const currentReady = current ? host.find(current.path) === current : false;
  const runningHere = current
    ? manager.generations.some(
        g =>
          g.record.path === current.path &&
          !isTerminalStatus(g.progress.status) &&
          !g.record.settled
      )
    : false;
  const blocker = generateBlocker(trans, {
    hasNotebook: current !== null,
    notebookReady: currentReady,
    hasSource: repo !== null,
    prompt: form.prompt,
    runningHere,
    starting
  });

  const generate = async () => {
    if (blocker || !current || !repo) {
      if (!form.prompt.trim()) {
        promptRef.current?.focus();
      }
      return;
    }
    setStarting(true);
    setActionError(null);
    setNotice(null);
    try {
      const gen = await manager.start(
        {
          repo_id: repo.id,
          prompt: form.prompt.trim(),
          template: form.template,
          complexity: form.complexity,
          ...(hfModel ? { hf_model_id: hfModel } : {}),
          ...(form.topic.trim() ? { topic: form.topic.trim() } : {}),
          ...(form.provider ? { provider: form.provider } : {}),
          ...(form.model.trim() ? { model: form.model.trim() } : {}),
          ...extrasFor(
            recipes?.find(r => r.id === form.template),
            form
          ),
          ...(settings.value.approval !== 'server'
            ? { approval: settings.value.approval }
            : {})
        },
        current
      );
      setSelectedId(gen.id);
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setStarting(false);
    }
  };

  // The palette's "Generate" command.
  const generateRef = React.useRef(generate);
  generateRef.current = generate;
  React.useEffect(() => {
    const onRequest = () => void generateRef.current();
    props.generateRequested.connect(onRequest);
    return () => {
      props.generateRequested.disconnect(onRequest);
    };
  }, [props.generateRequested]);

  const download = async (id: string) => {
    setActionError(null);
    try {
      const name = await downloadNotebook(api, id);
      setNotice(trans.__('Downloaded %1.', name));
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  const insertAgain = async (id: string) => {
    const handle = host.current();
    if (!handle) {
      return;
    }
    setActionError(null);
    try {
      const count = await manager.insertInto(id, handle);
      setNotice(
        count > 0
          ? trans._n(
              'Inserted %1 cell into %2.',
              'Inserted %1 cells into %2.',
              count,
              handle.path
            )
          : trans.__('Its cells are already in %1.', handle.path)
      );
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  const shown: Generation | undefined =
    (selectedId ? manager.viewed(selectedId) : undefined) ?? manager.latest();
  const offers = manager.offers;
  const refreshKey = manager.generations
    .map(g => `${g.id}:${isTerminalStatus(g.progress.status) ? 'done' : 'run'}`)
    .join(',');

  return (
    <div className="jp-Cookbook-body">
      <header className="jp-Cookbook-header">
        <h2>{trans.__('Cookbook')}</h2>
        {status && (
          <span
            className="jp-Cookbook-muted"
            title={trans.__('Server extension version')}
          >
            {trans.__('v%1', status.version)}
          </span>
        )}
      </header>
      {loadError && (
        <div className="jp-Cookbook-error" role="alert">
          {loadError}
        </div>
      )}
      {offers.map(offer => (
        <div
          key={offer.generationId}
          className="jp-Cookbook-notice jp-Cookbook-offer"
          role="status"
          title={offer.path}
        >
          {offer.open
            ? trans._n(
                '%1 validated cell is waiting for %2.',
                '%1 validated cells are waiting for %2.',
                offer.count,
                basename(offer.path)
              )
            : trans._n(
                '%1 validated cell is waiting for %2, which is closed.',
                '%1 validated cells are waiting for %2, which is closed.',
                offer.count,
                basename(offer.path)
              )}
          <div className="jp-Cookbook-row">
            {offer.open ? (
              <Button
                small
                className="jp-Cookbook-accent"
                onClick={() =>
                  void manager
                    .acceptOffer(offer.generationId)
                    .catch(err => setActionError(errorMessage(err)))
                }
              >
                {trans.__('Insert them')}
              </Button>
            ) : (
              <Button small onClick={() => props.openPath(offer.path)}>
                {trans.__('Open the notebook')}
              </Button>
            )}
            <Button
              small
              minimal
              onClick={() => void download(offer.generationId)}
            >
              {trans.__('Download .ipynb')}
            </Button>
            <Button
              small
              minimal
              onClick={() => manager.discardOffer(offer.generationId)}
            >
              {trans.__('Discard')}
            </Button>
          </div>
        </div>
      ))}
      <SourceSection
        api={api}
        trans={trans}
        repo={repo}
        onRepo={setRepo}
        onPickModel={setHfModel}
        selectedModel={hfModel}
      />
      <ModelSection
        api={api}
        trans={trans}
        value={hfModel}
        onChange={setHfModel}
        searchLimit={settings.value.modelSearchLimit}
      />
      <RecipeSection
        trans={trans}
        form={form}
        onChange={setForm}
        recipes={recipes}
        status={status}
        error={null}
        promptRef={promptRef}
        onAddKey={() => setSecretsRequest(n => n + 1)}
      />
      <section
        className="jp-Cookbook-section jp-Cookbook-generate"
        aria-labelledby="jp-Cookbook-generate-title"
      >
        <h3
          id="jp-Cookbook-generate-title"
          className="jp-Cookbook-sectionTitle"
        >
          {trans.__('Generate')}
        </h3>
        {current && (
          <div className="jp-Cookbook-target" title={current.path}>
            {trans.__('Into %1', basename(current.path))}
            {currentReady && !current.kernelId() && (
              <span className="jp-Cookbook-muted">
                {' '}
                — {trans.__('its kernel will be started')}
              </span>
            )}
          </div>
        )}
        <Button
          className="jp-Cookbook-accent jp-Cookbook-primary jp-Cookbook-generateButton"
          onClick={() => void generate()}
          disabled={blocker !== null}
          aria-describedby={blocker ? 'jp-Cookbook-generate-reason' : undefined}
        >
          {starting
            ? trans.__('Starting…')
            : trans.__('Generate into the notebook')}
        </Button>
        {blocker && !starting && (
          <p id="jp-Cookbook-generate-reason" className="jp-Cookbook-reason">
            {blocker}
          </p>
        )}
        {actionError && (
          <div className="jp-Cookbook-error" role="alert">
            {actionError}
          </div>
        )}
        {notice && (
          <p className="jp-Cookbook-muted" role="status">
            {notice}
          </p>
        )}
      </section>
      {shown && (
        <ProgressSection
          trans={trans}
          generation={shown}
          local={manager.get(shown.id) !== undefined}
          onCancel={() =>
            void manager
              .cancel(shown.id)
              .catch(err => setActionError(errorMessage(err)))
          }
          onDownload={() => void download(shown.id)}
          onApprove={(approvalId, approved) =>
            void manager
              .answerApproval(shown.id, approvalId, approved)
              .catch(err => setActionError(errorMessage(err)))
          }
        />
      )}
      <HistorySection
        api={api}
        trans={trans}
        refreshKey={refreshKey}
        selectedId={shown?.id ?? null}
        onOpen={id => {
          manager.open(id);
          setSelectedId(id);
        }}
        onDownload={id => void download(id)}
        onInsert={currentReady ? id => void insertAgain(id) : null}
      />
      <SecretsSection
        api={api}
        trans={trans}
        onChanged={refreshStatus}
        focusRequest={secretsRequest}
      />
    </div>
  );
}

/** The sidebar widget hosting the Cookbook panel. */
export class CookbookPanel extends ReactWidget {
  constructor(props: Omit<ICookbookAppProps, 'generateRequested'>) {
    super();
    this._props = { ...props, generateRequested: this._generateRequested };
    this.addClass('jp-Cookbook-panel');
  }

  /** Start a generation with what the form holds (or point at what is missing). */
  requestGenerate(): void {
    this._generateRequested.emit();
  }

  protected render(): JSX.Element {
    return <CookbookApp {...this._props} />;
  }

  private _generateRequested = new Signal<this, void>(this);
  private _props: ICookbookAppProps;
}
