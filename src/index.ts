/**
 * The Cookbook front end's plugins, and the tokens other extensions use. Only
 * wiring lives here: the model, the panel and the widgets are library code.
 *
 * - `cookbook-ext:core` provides `ICookbook` (the model, its settings);
 * - `cookbook-ext:sidebar` puts the panel in the left sidebar;
 * - `cookbook-ext:commands` adds the commands, their palette entries and the
 *   notebook toolbar button (`schema/commands.json`).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { cookbookIcon } from './icons';
// The service behind ICookbook must exist when the core plugin activates;
// constructing it asks the server nothing (`restore` does, once restored).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { CookbookModel } from './model';
import { NotebookHost } from './notebookHost';
import { localStore } from './persistence';
import { SettingsModel } from './settings';
import { CookbookSidebar } from './sidebar';
import { ICookbook, ICookbookSidebar } from './tokens';

export * from './tokens';

const corePlugin: JupyterFrontEndPlugin<ICookbook> = {
  id: 'cookbook-ext:core',
  description:
    'Cookbook: turn a repository and a Hugging Face model into validated notebook cells.',
  autoStart: true,
  provides: ICookbook,
  optional: [INotebookTracker, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null
  ): ICookbook => {
    const settings = new SettingsModel();
    if (settingRegistry) {
      settingRegistry
        .load(corePlugin.id)
        .then(s => settings.attach(s))
        .catch(reason =>
          console.warn(
            'Cookbook: settings could not be loaded; using defaults.',
            reason
          )
        );
    }
    const model = new CookbookModel({
      serverSettings: app.serviceManager.serverSettings,
      notebooks: new NotebookHost(tracker),
      storage: localStore(),
      settings
    });
    // The server is asked nothing before the application is up, so the
    // extension adds next to nothing to JupyterLab's start-up; then the
    // model follows the generations left running before a reload.
    void app.restored.then(() => model.restore());
    return model;
  }
};

const sidebarPlugin: JupyterFrontEndPlugin<ICookbookSidebar> = {
  id: 'cookbook-ext:sidebar',
  description: 'The Cookbook panel in the left sidebar.',
  autoStart: true,
  requires: [ICookbook],
  optional: [ITranslator, ILayoutRestorer],
  provides: ICookbookSidebar,
  activate: (
    app: JupyterFrontEnd,
    model: ICookbook,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null
  ): ICookbookSidebar => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    const sidebar = new CookbookSidebar({
      model,
      trans,
      openPath: path => void app.commands.execute('docmanager:open', { path })
    });
    sidebar.id = 'jp-cookbook-panel';
    sidebar.title.icon = cookbookIcon;
    sidebar.title.caption = trans.__('Cookbook');
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'cookbook-panel');

    const show = async () => {
      app.shell.activateById(sidebar.id);
      return sidebar.ready();
    };
    return {
      id: sidebar.id,
      show: async () => {
        await show();
      },
      requestGenerate: async () => {
        (await show()).requestGenerate();
      }
    };
  }
};

namespace CommandIDs {
  export const open = 'cookbook:open';
  export const generate = 'cookbook:generate';
}

const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'cookbook-ext:commands',
  description:
    'The Cookbook commands, their palette entries and the notebook toolbar button.',
  autoStart: true,
  requires: [ICookbook, ICookbookSidebar],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    model: ICookbook,
    sidebar: ICookbookSidebar,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open Cookbook'),
      caption: trans.__(
        'Generate validated cells from a repository and a Hugging Face model'
      ),
      icon: cookbookIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => sidebar.show()
    });
    app.commands.addCommand(CommandIDs.generate, {
      label: trans.__('Cookbook: Generate into the Current Notebook'),
      caption: trans.__('Start a generation with the Cookbook panel’s recipe'),
      icon: cookbookIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => model.notebooks.current() !== null,
      execute: () => sidebar.requestGenerate()
    });
    model.notebooks.currentChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.generate)
    );

    const category = trans.__('Cookbook');
    palette?.addItem({ command: CommandIDs.open, category });
    palette?.addItem({ command: CommandIDs.generate, category });
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  sidebarPlugin,
  commandsPlugin
];

export default plugins;
