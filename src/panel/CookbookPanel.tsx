import type { TranslationBundle } from '@jupyterlab/translation';
import { Button, ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import { errorMessage, INextStep, isTerminalStatus } from '../api';
import type { InsertionPoint } from '../notebook';
import type { IApproval } from '../progress';
import { checkInputs, ownInputs } from '../recipeForm';
import {
  consentedSecrets,
  generationRequest,
  IRecipeForm,
  ISecretConsent,
  noSecrets
} from '../request';
import type { ICookbook, ILiveGeneration } from '../tokens';
import { basename } from './format';
import { CatalogSection } from './CatalogSection';
import { CompareSection } from './CompareSection';
import { HistorySection } from './HistorySection';
import { useSignal } from './hooks';
import { loadInputs, saveInputs } from './persist';
import { ModelSection } from './ModelSection';
import { ProgressSection } from './ProgressSection';
import { RecipeSection } from './RecipeSection';
import { neededSecrets, SecretConsent } from './SecretConsent';
import { SecretsSection } from './SecretsSection';
import { SourceSection } from './SourceSection';

export interface ICookbookAppProps {
  /** Everything the panel shows and does goes through the model. */
  model: ICookbook;
  trans: TranslationBundle;
  /** Open a file in the application (to bring a closed target back). */
  openPath: (path: string) => void;
  /** Emitted by the "generate" command. */
  generateRequested: Signal<any, void>;
  /** Emitted with a generation's id to show it (a cell's badge, a notification). */
  showRequested: Signal<any, string>;
  /** Whether the panel is showing now. */
  isShown: () => boolean;
  /** Pick a file or folder under the Jupyter root (null: none can be picked here). */
  pickPath?: (() => Promise<string | null>) | null;
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
    /** The first of the recipe's inputs that is refused, if any. */
    badInput?: string | null;
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
  if (options.badInput) {
    return trans.__('Check the recipe’s input “%1”.', options.badInput);
  }
  if (options.starting) {
    return trans.__('Starting…');
  }
  return null;
}

export function CookbookApp(props: ICookbookAppProps): JSX.Element {
  const { model, trans } = props;
  const host = model.notebooks;
  useSignal(model.generationStarted);
  useSignal(model.generationChanged);
  useSignal(model.statusChanged);
  useSignal(model.recipesChanged);
  useSignal(model.reposChanged);
  useSignal(model.secretsChanged);
  useSignal(model.settingsChanged);
  useSignal(host.currentChanged);
  useSignal(host.opened);
  const settings = model.settings;
  const status = model.status;
  const recipes = model.recipes;
  const storedSecrets = model.secrets;

  const [loadError, setLoadError] = React.useState<string | null>(null);
  const saved = React.useMemo(() => loadInputs(), []);
  const [repoId, setRepoId] = React.useState<string | null>(null);
  const repo = repoId ? (model.repo(repoId) ?? null) : null;
  const [hfModel, setHfModel] = React.useState(saved?.hfModel ?? '');
  const [form, setForm] = React.useState<IRecipeForm>(() => ({
    prompt: '',
    template: settings.defaultTemplate,
    topic: '',
    complexity: settings.defaultComplexity,
    provider: settings.defaultProvider,
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
    model
      .getRepo(saved.repoId, controller.signal)
      .then(r => setRepoId(current => current ?? r.id))
      .catch(() => {
        /* gone from the server: the user ingests again */
      });
    return () => controller.abort();
  }, [model]);

  React.useEffect(() => {
    saveInputs({ repoId: repo?.id ?? null, hfModel, form });
  }, [repo?.id, hfModel, form]);
  const [selectedId, setSelectedId] = React.useState<string | null>(null);
  const [starting, setStarting] = React.useState(false);
  const [actionError, setActionError] = React.useState<string | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);
  const promptRef = React.useRef<HTMLTextAreaElement>(null);
  const [secretsRequest, setSecretsRequest] = React.useState(0);
  const [placement, setPlacement] = React.useState<InsertionPoint>(
    settings.insertionPoint
  );
  React.useEffect(
    () => setPlacement(settings.insertionPoint),
    [settings.insertionPoint]
  );
  const [replacePrevious, setReplacePrevious] = React.useState(false);
  const [showProblems, setShowProblems] = React.useState(false);
  const progressRef = React.useRef<HTMLDivElement>(null);
  // The secrets the kernel may see: none until the user ticks them, and not
  // remembered across reloads, so every consent is given in this page.
  const [consent, setConsent] = React.useState<ISecretConsent>(noSecrets);

  React.useEffect(() => {
    const controller = new AbortController();
    model.refreshSecrets(controller.signal).catch(() => {
      /* no list, no choice: the generation gets no secrets */
    });
    return () => controller.abort();
  }, [model]);

  React.useEffect(() => {
    const controller = new AbortController();
    Promise.all([
      model.refreshStatus(controller.signal),
      model.refreshRecipes(controller.signal)
    ])
      .then(([, r]) => {
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
  }, [model]);

  // A removed pack takes its recipes out of the picker: the form moves to one that is there.
  React.useEffect(() => {
    if (recipes && recipes.length > 0) {
      setForm(f =>
        recipes.some(r => r.id === f.template)
          ? f
          : { ...f, template: recipes[0].id }
      );
    }
  }, [recipes]);

  const current = host.current();
  const currentReady = current ? host.find(current.path) === current : false;
  const runningHere = current
    ? model.generations.some(
        g =>
          g.path === current.path &&
          !isTerminalStatus(g.progress.status) &&
          !g.settled
      )
    : false;
  const recipe = recipes?.find(r => r.id === form.template);
  const problems = checkInputs(recipe, form.extras);
  const badInput = Object.keys(problems)[0] ?? null;
  const badLabel = badInput
    ? (ownInputs(recipe).find(i => i.name === badInput)?.label ?? badInput)
    : null;
  const blocker = generateBlocker(trans, {
    hasNotebook: current !== null,
    notebookReady: currentReady,
    hasSource: repo !== null,
    prompt: form.prompt,
    runningHere,
    starting,
    badInput: badLabel
  });
  const previous =
    currentReady && current ? model.previousRun(current.path) : null;

  const generate = async () => {
    if (blocker || !current || !repo) {
      if (!form.prompt.trim()) {
        promptRef.current?.focus();
      } else if (badInput) {
        setShowProblems(true);
        document.getElementById(`jp-Cookbook-input-${badInput}`)?.focus();
      }
      return;
    }
    setStarting(true);
    setActionError(null);
    setNotice(null);
    try {
      const gen = await model.startGeneration(
        generationRequest({
          repoId: repo.id,
          hfModel,
          form,
          recipe,
          approval: settings.approval,
          consent,
          storedSecrets
        }),
        current.path,
        { placement, replacePrevious: replacePrevious && previous !== null }
      );
      setSelectedId(gen.id);
      setReplacePrevious(false);
      setShowProblems(false);
    } catch (err) {
      setActionError(errorMessage(err));
    } finally {
      setStarting(false);
    }
  };

  const show = (id: string) => {
    model.view(id);
    setSelectedId(id);
    requestAnimationFrame(() =>
      progressRef.current?.scrollIntoView?.({ block: 'nearest' })
    );
  };

  // A cell's badge, a notification or the status bar asks to show a generation.
  const showRef = React.useRef(show);
  showRef.current = show;
  React.useEffect(() => {
    const onShow = (_: unknown, id: string) => showRef.current(id);
    props.showRequested.connect(onShow);
    return () => {
      props.showRequested.disconnect(onShow);
    };
  }, [props.showRequested]);

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

  const answer = async (
    generationId: string,
    approval: IApproval,
    approved: boolean,
    trust: boolean
  ) => {
    try {
      // Trusting it also updates the repository the Source section shows.
      await model.answerApproval(
        generationId,
        approval.approvalId,
        approved,
        trust
      );
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  const download = async (id: string) => {
    setActionError(null);
    try {
      const name = await model.download(id);
      setNotice(trans.__('Downloaded %1.', name));
    } catch (err) {
      setActionError(errorMessage(err));
    }
  };

  const insertAgain = async (id: string, outputs: 'keep' | 'clear') => {
    const handle = host.current();
    if (!handle) {
      return;
    }
    setActionError(null);
    try {
      const count = await model.insertInto(id, handle.path, {
        outputs,
        placement
      });
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

  const shown: ILiveGeneration | undefined =
    (selectedId ? model.get(selectedId) : undefined) ?? model.latest();

  // A question waiting elsewhere comes to the front when the run shown asks none.
  const waiting = model.pendingApprovals();
  const waitingId = waiting[0]?.generation.id ?? null;
  React.useEffect(() => {
    if (
      waitingId &&
      waitingId !== shown?.id &&
      (shown?.progress.approvals.length ?? 0) === 0
    ) {
      setSelectedId(waitingId);
    }
  }, [waitingId]);

  /** A failed or empty run's next step, as the user chose it. */
  const nextStep = async (id: string, step: INextStep) => {
    setActionError(null);
    let gen: ILiveGeneration;
    switch (step.action) {
      case 'install_and_retry':
        gen = await model.installAndRetry(id, step.packages ?? []);
        break;
      case 'try_provider': {
        const provider = status?.providers.find(p => p.name === step.provider);
        if (provider && !provider.available) {
          // It needs a key first: the Secrets section takes it.
          setSecretsRequest(n => n + 1);
          throw new Error(
            trans.__(
              'Add an API key for %1 first, then try again.',
              provider.name
            )
          );
        }
        gen = await model.retry(id, { provider: step.provider });
        break;
      }
      case 'trust_repository': {
        const repoToTrust = step.repo_id ?? repo?.id;
        if (repoToTrust) {
          await model.trustRepo(repoToTrust, true);
        }
        gen = await model.retry(id);
        break;
      }
      default:
        gen = await model.retry(id);
    }
    setSelectedId(gen.id);
  };

  const followUpTarget =
    shown?.path && host.find(shown.path) ? shown.path : current?.path;
  const followUpBlocker = !followUpTarget
    ? trans.__('Open a notebook to continue in.')
    : model.generations.some(
          g =>
            g.path === followUpTarget &&
            !isTerminalStatus(g.progress.status) &&
            !g.settled
        )
      ? trans.__('A generation is already running in this notebook.')
      : null;

  /** A past generation again, into the current notebook; the history shows a refusal. */
  const runAgain = async (id: string, templateVersion?: string) => {
    if (!current) {
      return;
    }
    setActionError(null);
    const gen = await model.runAgain(id, {
      target: current.path,
      templateVersion,
      placement,
      secrets: consentedSecrets(consent, storedSecrets)
    });
    setSelectedId(gen.id);
  };

  const followUp = async (parentId: string, prompt: string) => {
    const gen = await model.followUp(parentId, prompt, {
      target: followUpTarget ?? undefined,
      secrets: consentedSecrets(consent, storedSecrets)
    });
    setSelectedId(gen.id);
  };
  const offers = model.offers;
  const refreshKey = model.generations
    .map(g => `${g.id}:${isTerminalStatus(g.progress.status) ? 'done' : 'run'}`)
    .join(',');
  const searchModels = React.useCallback(
    (search: string, signal: AbortSignal) =>
      model.searchModels({ search, limit: 10 }, signal),
    [model]
  );

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
                  void model
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
              onClick={() => model.discardOffer(offer.generationId)}
            >
              {trans.__('Discard')}
            </Button>
          </div>
        </div>
      ))}
      <SourceSection
        model={model}
        trans={trans}
        repo={repo}
        onRepo={r => setRepoId(r.id)}
        onPickModel={setHfModel}
        selectedModel={hfModel}
      />
      <ModelSection
        model={model}
        trans={trans}
        value={hfModel}
        onChange={setHfModel}
        searchLimit={settings.modelSearchLimit}
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
        onSubmit={() => void generate()}
        recipeErrors={model.recipeErrors}
        showProblems={showProblems}
        pickPath={props.pickPath}
        searchModels={searchModels}
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
        <div className="jp-Cookbook-field">
          <label className="jp-Cookbook-label" htmlFor="jp-Cookbook-placement">
            {trans.__('Put the cells')}
          </label>
          <select
            id="jp-Cookbook-placement"
            className="jp-mod-styled jp-Cookbook-select"
            value={placement}
            onChange={e => setPlacement(e.target.value as InsertionPoint)}
          >
            <option value="end">
              {trans.__('At the end of the notebook')}
            </option>
            <option value="after-active">
              {trans.__('Below the active cell')}
            </option>
          </select>
        </div>
        {previous && (
          <div className="jp-Cookbook-checkRow">
            <input
              id="jp-Cookbook-replace-previous"
              type="checkbox"
              checked={replacePrevious}
              onChange={e => setReplacePrevious(e.target.checked)}
            />
            <label htmlFor="jp-Cookbook-replace-previous">
              {trans._n(
                'Replace the previous run (%1 cell)',
                'Replace the previous run (%1 cells)',
                previous.cells
              )}
            </label>
          </div>
        )}
        <SecretConsent
          trans={trans}
          secrets={storedSecrets}
          consent={consent}
          onChange={setConsent}
          disabled={starting}
          needed={neededSecrets(trans, repo)}
        />
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
        <div ref={progressRef}>
          <ProgressSection
            trans={trans}
            generation={shown}
            local={shown.local}
            providers={status?.providers ?? []}
            isShown={props.isShown}
            onCancel={() =>
              void model
                .cancel(shown.id)
                .catch(err => setActionError(errorMessage(err)))
            }
            onDownload={() => void download(shown.id)}
            onApprove={(approval, approved, trust) =>
              void answer(shown.id, approval, approved, trust)
            }
            onRemoveCells={
              shown.local && shown.cellsInNotebook > 0 && host.find(shown.path)
                ? () => {
                    try {
                      const count = model.removeCells(shown.id);
                      setNotice(
                        trans._n(
                          'Removed %1 cell from %2 (Undo brings it back).',
                          'Removed %1 cells from %2 (Undo brings them back).',
                          count,
                          basename(shown.path)
                        )
                      );
                    } catch (err) {
                      setActionError(errorMessage(err));
                    }
                  }
                : null
            }
            onReplacement={(cellId, decision) =>
              model.answerReplacement(shown.id, cellId, decision)
            }
            onNextStep={step => nextStep(shown.id, step)}
            onFollowUp={prompt => followUp(shown.id, prompt)}
            followUpBlocker={followUpBlocker}
            onOpen={show}
          />
        </div>
      )}
      <CompareSection
        model={model}
        trans={trans}
        providers={status?.providers ?? []}
        request={() => {
          if (!repo) {
            return trans.__('Ingest a repository first.');
          }
          if (!form.prompt.trim()) {
            return trans.__('Describe what the notebook should do.');
          }
          if (badLabel) {
            return trans.__('Check the recipe’s input “%1”.', badLabel);
          }
          return generationRequest({
            repoId: repo.id,
            hfModel,
            form,
            recipe,
            approval: settings.approval,
            consent,
            storedSecrets
          });
        }}
        onInsert={currentReady ? id => void insertAgain(id, 'keep') : null}
      />
      <HistorySection
        model={model}
        trans={trans}
        refreshKey={refreshKey}
        selectedId={shown?.id ?? null}
        onOpen={show}
        onDownload={id => void download(id)}
        onInsert={
          currentReady ? (id, outputs) => void insertAgain(id, outputs) : null
        }
        onRunAgain={currentReady ? runAgain : null}
        runAgainBlocker={
          runningHere
            ? trans.__('A generation is already running in this notebook.')
            : null
        }
      />
      <SecretsSection
        model={model}
        trans={trans}
        focusRequest={secretsRequest}
      />
      <CatalogSection model={model} trans={trans} />
    </div>
  );
}

/** The sidebar widget hosting the Cookbook panel. */
export class CookbookPanel extends ReactWidget {
  constructor(
    props: Omit<
      ICookbookAppProps,
      'generateRequested' | 'showRequested' | 'isShown'
    > & { isShown?: () => boolean }
  ) {
    super();
    this._props = {
      ...props,
      generateRequested: this._generateRequested,
      showRequested: this._showRequested,
      isShown: props.isShown ?? (() => this.isVisible)
    };
    this.addClass('jp-Cookbook-panel');
  }

  /** Start a generation with what the form holds (or point at what is missing). */
  requestGenerate(): void {
    this._generateRequested.emit();
  }

  /** Show one generation (its steps, its questions, its follow-up box). */
  showGeneration(id: string): void {
    this._showRequested.emit(id);
  }

  protected render(): JSX.Element {
    return <CookbookApp {...this._props} />;
  }

  private _generateRequested = new Signal<this, void>(this);
  private _showRequested = new Signal<this, string>(this);
  private _props: ICookbookAppProps;
}
