import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Panel } from '@lumino/widgets';

import type { GenerationManager, IKeyValueStore } from './generations';
import { cookbookIcon } from './icons';
import { SettingsModel } from './settings';

const PLUGIN_ID = 'cookbook-ext:plugin';

namespace CommandIDs {
  export const open = 'cookbook:open';
  export const generate = 'cookbook:generate';
}

function localStore(): IKeyValueStore | null {
  try {
    const storage = window.localStorage;
    const probe = 'cookbook-ext:probe';
    storage.setItem(probe, '1');
    storage.removeItem(probe);
    return storage;
  } catch {
    return null; // private mode or disabled: keep state in memory only
  }
}

/**
 * The sidebar holds a lightweight placeholder; the React panel loads the
 * first time it is shown, so the extension adds little to the start-up time.
 */
class CookbookSidebar extends Panel {
  constructor(
    private readonly _load: () => Promise<
      import('./panel/CookbookPanel').CookbookPanel
    >
  ) {
    super();
    this.addClass('jp-Cookbook-sidebar');
  }

  /** The panel, loading it if needed. */
  ready(): Promise<import('./panel/CookbookPanel').CookbookPanel> {
    if (!this._ready) {
      this._ready = this._load().then(panel => {
        this.addWidget(panel);
        return panel;
      });
    }
    return this._ready;
  }

  protected onBeforeShow(): void {
    void this.ready();
  }

  private _ready: Promise<
    import('./panel/CookbookPanel').CookbookPanel
  > | null = null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Cookbook: turn a repository and a Hugging Face model into validated notebook cells.',
  autoStart: true,
  optional: [
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    INotebookTracker,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    const settings = new SettingsModel();
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(s => settings.attach(s))
        .catch(reason =>
          console.warn(
            'Cookbook: settings could not be loaded; using defaults.',
            reason
          )
        );
    }
    // Everything else loads once the application is up, so the extension
    // adds next to nothing to JupyterLab's start-up; then it follows the
    // generations left running before a reload.
    const core = app.restored.then(async () => {
      const [{ CookbookAPI }, { GenerationManager }, { NotebookHost }] =
        await Promise.all([
          import('./api'),
          import('./generations'),
          import('./tracker')
        ]);
      const api = new CookbookAPI({
        serverSettings: app.serviceManager.serverSettings
      });
      const host = new NotebookHost(tracker);
      const manager: GenerationManager = new GenerationManager({
        api,
        host,
        storage: localStore(),
        insertionPoint: () => settings.value.insertionPoint
      });
      manager.resumeAll();
      // Exposed for the end-to-end tests and the benchmark.
      (app as any).cookbook = { manager, host, api };
      return { api, host, manager };
    });

    const sidebar = new CookbookSidebar(async () => {
      const [{ CookbookPanel }, { api, host, manager }] = await Promise.all([
        import('./panel/CookbookPanel'),
        core
      ]);
      return new CookbookPanel({
        api,
        trans,
        manager,
        host,
        settings,
        openPath: path => void app.commands.execute('docmanager:open', { path })
      });
    });
    sidebar.id = 'jp-cookbook-panel';
    sidebar.title.icon = cookbookIcon;
    sidebar.title.caption = trans.__('Cookbook');
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'cookbook-panel');

    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open Cookbook'),
      caption: trans.__(
        'Generate validated cells from a repository and a Hugging Face model'
      ),
      icon: cookbookIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        app.shell.activateById(sidebar.id);
        await sidebar.ready();
      }
    });
    app.commands.addCommand(CommandIDs.generate, {
      label: trans.__('Cookbook: Generate into the Current Notebook'),
      caption: trans.__('Start a generation with the Cookbook panel’s recipe'),
      icon: cookbookIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => !!tracker?.currentWidget,
      execute: async () => {
        app.shell.activateById(sidebar.id);
        const panel = await sidebar.ready();
        panel.requestGenerate();
      }
    });
    tracker?.currentChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.generate)
    );

    const category = trans.__('Cookbook');
    palette?.addItem({ command: CommandIDs.open, category });
    palette?.addItem({ command: CommandIDs.generate, category });
  }
};

export default plugin;
