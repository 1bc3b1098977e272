/**
 * The Cookbook front end's plugins, and the tokens other extensions use. Only
 * wiring lives here: the model, the panel and the widgets are library code.
 *
 * - `cookbook-ext:core` provides `ICookbook` (the model, its settings);
 * - `cookbook-ext:sidebar` puts the panel in the left sidebar, with the
 *   approvals the user cannot miss (a count on its icon, a notification, a
 *   status-bar item);
 * - `cookbook-ext:badges` marks each Cookbook cell with where it came from;
 * - `cookbook-ext:commands` adds the commands, their palette entries, the
 *   notebook toolbar button (`schema/commands.json`) and a Launcher tile.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

// The approvals are heard from the start (a count on the icon, a
// notification), even before the panel is first shown.
import { ApprovalAlerts } from './alerts';
import { cookbookIcon } from './icons';
// The service behind ICookbook must exist when the core plugin activates;
// constructing it asks the server nothing (`restore` does, once restored).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { CookbookModel } from './model';
import { NotebookHost } from './notebookHost';
import { localStore } from './persistence';
import { SettingsModel } from './settings';
import { CookbookSidebar } from './sidebar';
// A status-bar item is registered when the status bar is.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { CookbookStatusItem } from './statusItem';
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
  description:
    'The Cookbook panel in the left sidebar, and the approvals it waits for.',
  autoStart: true,
  requires: [ICookbook],
  optional: [ITranslator, ILayoutRestorer, IDocumentManager, IStatusBar],
  provides: ICookbookSidebar,
  activate: (
    app: JupyterFrontEnd,
    model: ICookbook,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    docManager: IDocumentManager | null,
    statusBar: IStatusBar | null
  ): ICookbookSidebar => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    const pickPath = docManager
      ? async (): Promise<string | null> => {
          const { FileDialog } = await import('@jupyterlab/filebrowser');
          const result = await FileDialog.getOpenFiles({
            manager: docManager,
            title: trans.__('Choose a file or folder')
          });
          const picked = result.button.accept ? result.value?.[0] : undefined;
          return picked ? picked.path : null;
        }
      : null;
    const sidebar = new CookbookSidebar({
      model,
      trans,
      openPath: path => void app.commands.execute('docmanager:open', { path }),
      pickPath
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
    const service: ICookbookSidebar = {
      id: sidebar.id,
      get isVisible() {
        return sidebar.isVisible;
      },
      show: async () => {
        await show();
      },
      requestGenerate: async () => {
        (await show()).requestGenerate();
      },
      showGeneration: async (id: string) => {
        (await show()).showGeneration(id);
      }
    };

    const alerts = new ApprovalAlerts({
      model,
      sidebar: service,
      title: sidebar.title,
      trans,
      notifier: Notification
    });
    sidebar.visibilityChanged.connect(() => alerts.refresh());
    if (statusBar) {
      const item = new CookbookStatusItem(model, service, trans);
      statusBar.registerStatusItem('cookbook-ext:status', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => item.active,
        activeStateChanged: item.activeChanged
      });
    }
    return service;
  }
};

const badgesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'cookbook-ext:badges',
  description:
    'A badge on each Cookbook cell: its run, where its code came from, a link to its generation.',
  autoStart: true,
  requires: [ICookbookSidebar, INotebookTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidebar: ICookbookSidebar,
    tracker: INotebookTracker,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    // Loaded with the first notebook: no notebook, no badges to draw.
    let started = false;
    const start = () => {
      if (started) {
        return;
      }
      started = true;
      tracker.widgetAdded.disconnect(start);
      void import('./cellBadges').then(({ CellBadges }) => {
        new CellBadges({
          tracker,
          trans,
          open: id => void sidebar.showGeneration(id)
        });
      });
    };
    if (tracker.size > 0) {
      start();
    } else {
      tracker.widgetAdded.connect(start);
    }
  }
};

namespace CommandIDs {
  export const open = 'cookbook:open';
  export const generate = 'cookbook:generate';
  export const newNotebook = 'cookbook:new-notebook';
  export const removeGeneration = 'cookbook:remove-generation';
  export const showGeneration = 'cookbook:show-generation';
}

const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'cookbook-ext:commands',
  description:
    'The Cookbook commands, their palette entries, the notebook toolbar button and a Launcher tile.',
  autoStart: true,
  requires: [ICookbook, ICookbookSidebar],
  optional: [ITranslator, ICommandPalette, ILauncher, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    model: ICookbook,
    sidebar: ICookbookSidebar,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    tracker: INotebookTracker | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('cookbook_ext');
    app.commands.addCommand(CommandIDs.open, {
      label: trans.__('Open Cookbook'),
      caption: trans.__(
        'Generate validated cells from a repository and a Hugging Face model, into the current notebook'
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
    app.commands.addCommand(CommandIDs.newNotebook, {
      label: args =>
        args.isLauncher
          ? trans.__('Cookbook')
          : trans.__('New Cookbook Notebook'),
      caption: trans.__(
        'A new notebook, with the Cookbook panel open to fill it'
      ),
      icon: cookbookIcon,
      describedBy: {
        args: {
          type: 'object',
          properties: { isLauncher: { type: 'boolean' } }
        }
      },
      execute: async () => {
        await app.commands.execute('notebook:create-new');
        await sidebar.show();
      }
    });

    // The generation of the active cell (the one right-clicked, in the context menu).
    const activeGeneration = (): string | null => {
      const tag = tracker?.activeCell?.model.getMetadata('cookbook');
      return tag && typeof tag.generation_id === 'string'
        ? tag.generation_id
        : null;
    };
    app.commands.addCommand(CommandIDs.removeGeneration, {
      label: trans.__('Remove This Generation’s Cells'),
      caption: trans.__(
        'Take every cell of this cell’s generation out of the notebook (one undo step)'
      ),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => activeGeneration() !== null,
      execute: () => {
        const id = activeGeneration();
        const path = tracker?.currentWidget?.context.path;
        if (id && path) {
          model.removeCells(id, path);
        }
      }
    });
    app.commands.addCommand(CommandIDs.showGeneration, {
      label: trans.__('Show This Cell’s Generation in Cookbook'),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => activeGeneration() !== null,
      execute: () => {
        const id = activeGeneration();
        return id ? sidebar.showGeneration(id) : undefined;
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.showGeneration,
      selector: '.jp-Notebook .jp-Cookbook-cell',
      rank: 60
    });
    app.contextMenu.addItem({
      command: CommandIDs.removeGeneration,
      selector: '.jp-Notebook .jp-Cookbook-cell',
      rank: 61
    });
    model.notebooks.currentChanged.connect(() => {
      app.commands.notifyCommandChanged(CommandIDs.generate);
      app.commands.notifyCommandChanged(CommandIDs.removeGeneration);
      app.commands.notifyCommandChanged(CommandIDs.showGeneration);
    });

    const category = trans.__('Cookbook');
    palette?.addItem({ command: CommandIDs.open, category });
    palette?.addItem({ command: CommandIDs.generate, category });
    palette?.addItem({ command: CommandIDs.newNotebook, category });
    palette?.addItem({ command: CommandIDs.removeGeneration, category });
    launcher?.add({
      command: CommandIDs.newNotebook,
      category: trans.__('Notebook'),
      rank: 90,
      args: { isLauncher: true }
    });
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  corePlugin,
  sidebarPlugin,
  badgesPlugin,
  commandsPlugin
];

export default plugins;
