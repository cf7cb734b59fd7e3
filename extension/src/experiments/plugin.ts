/**
 * The experiments plugin: the experiments sidebar, task and compare views, Track, and their
 * commands and settings (the settings of `labtrack:plugin`, which the other panels read too).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyPartialJSONObject, ReadonlyPartialJSONValue } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { getConfig } from '../api';
import { addRunCommands, openRunMenu } from './commands';
import { createComparePanel } from './compare/ComparePanel';
import { SidebarWidget } from './Sidebar';
import { createTaskView, ITaskViewHooks, TaskViewWidget } from './TaskView';
import { ExperimentsModel, ISidebarState } from './model';
import { IActionOutcome } from './runActions';
import { labtrackIcon } from '../icons';
import { TrackExtension, trackPanel } from '../track';
import { CommandIDs, DEFAULT_SETTINGS, ILabtrackSettings, ITask, PLUGIN_ID } from '../tokens';

/** Where the sidebar's project, filters and selection are kept across reloads (IStateDB). */
const SIDEBAR_STATE_KEY = `${PLUGIN_ID}:sidebar`;

export const experimentsPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Experiment tracking inside JupyterLab: sidebar, task view, Track, compare.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry, INotebookTracker, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null,
    stateDB: IStateDB | null
  ) => {
    let settings: ILabtrackSettings = { ...DEFAULT_SETTINGS };
    const currentSettings = () => settings;
    const model = new ExperimentsModel();
    // One tracker per main-area widget kind: the layout restorer reopens what was open.
    const taskViews = new WidgetTracker<TaskViewWidget>({ namespace: 'labtrack-task' });
    const comparePanels = new WidgetTracker<MainAreaWidget>({ namespace: 'labtrack-compare' });
    const compareIds = new WeakMap<MainAreaWidget, string[]>();
    const viewedTasks = new Map<string, ITask>();
    const runsChanged = new Signal<ExperimentsModel, string[]>(model);

    const viewOf = (id: string) => taskViews.find(view => view.taskId === id);
    const openTask = (id: string) => {
      let view = viewOf(id);
      if (!view) {
        view = createTaskView(id, currentSettings, taskViewHooks);
        view.disposed.connect(() => viewedTasks.delete(id));
        app.shell.add(view, 'main');
        void taskViews.add(view);
      }
      app.shell.activateById(view.id);
    };
    const compare = (ids: string[]) => {
      const key = ids.join(',');
      let panel = comparePanels.find(p => (compareIds.get(p) ?? []).join(',') === key);
      if (!panel) {
        panel = createComparePanel(ids, currentSettings);
        compareIds.set(panel, ids);
        app.shell.add(panel, 'main');
        void comparePanels.add(panel);
      }
      app.shell.activateById(panel.id);
    };
    const taskViewHooks: ITaskViewHooks = {
      changed: runsChanged,
      loaded: task => viewedTasks.set(task.id, task),
      openMenu: (id, x, y) => openRunMenu(app.commands, [id], x, y),
      rename: id => void app.commands.execute(CommandIDs.renameTask, { ids: [id] }),
      openTask
    };

    const sidebar = new SidebarWidget(model, {
      openTask,
      compare,
      rename: id => void app.commands.execute(CommandIDs.renameTask, { ids: [id] }),
      openRunMenu: (ids, x, y) => openRunMenu(app.commands, ids, x, y),
      createProject: () => void app.commands.execute(CommandIDs.createProject)
    });
    sidebar.title.icon = labtrackIcon;
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'labtrack-sidebar');
    restorer?.restore(taskViews, {
      command: CommandIDs.openTask,
      args: view => ({ id: view.taskId }),
      name: view => view.taskId
    });
    restorer?.restore(comparePanels, {
      command: CommandIDs.compareSelected,
      args: panel => ({ ids: compareIds.get(panel) ?? [] }),
      name: panel => (compareIds.get(panel) ?? []).join(',')
    });

    /** After a run action: the list and every open view of a touched run show the result. */
    const afterAction = (outcome: IActionOutcome) => {
      for (const id of outcome.removed) {
        viewOf(id)?.dispose();
      }
      if (outcome.removed.length) {
        model.forget(outcome.removed);
      }
      if (outcome.changed.length) {
        runsChanged.emit(outcome.changed);
      }
      const project = outcome.showProject;
      void model.loadProjects().then(() => {
        if (project) {
          void model.setQuery({ projectId: project.id });
        }
      });
      if (outcome.created) {
        openTask(outcome.created.id);
      }
    };
    addRunCommands(
      {
        app,
        model,
        currentTaskId: () => {
          const current = app.shell.currentWidget;
          return current instanceof TaskViewWidget ? current.taskId : null;
        },
        viewedTask: id => viewedTasks.get(id),
        afterAction
      },
      palette
    );

    // The sidebar's project, filters and selection survive a reload; saved on each change.
    const stateRestored: Promise<void> = stateDB
      ? stateDB
          .fetch(SIDEBAR_STATE_KEY)
          .then(saved => {
            if (saved && typeof saved === 'object' && !Array.isArray(saved)) {
              model.restoreState(saved as unknown as Partial<ISidebarState>);
            }
          })
          .catch(reason => console.warn('labtrack: could not read the sidebar state', reason))
          .then(() => {
            model.stateChanged.connect(() => {
              void stateDB.save(
                SIDEBAR_STATE_KEY,
                model.state as unknown as ReadonlyPartialJSONValue
              );
            });
          })
      : Promise.resolve();

    const startPolling = () =>
      model.startPolling(settings.refreshInterval, () => sidebar.isVisible);

    let serverDefaultProject = '';
    const applySettings = (loaded: ISettingRegistry.ISettings) => {
      const composite = loaded.composite as unknown as Partial<ILabtrackSettings>;
      settings = { ...DEFAULT_SETTINGS, ...composite };
      // The user's setting wins; else the server extension's default_project.
      model.defaultProject = settings.defaultProject || serverDefaultProject;
      startPolling();
    };

    const settingsLoaded: Promise<void> = settingRegistry
      ? settingRegistry
          .load(PLUGIN_ID)
          .then(loaded => {
            applySettings(loaded);
            loaded.changed.connect(applySettings);
          })
          .catch(reason => {
            console.warn('labtrack: could not load settings, using defaults', reason);
            startPolling();
          })
      : Promise.resolve(startPolling());
    const configLoaded = getConfig()
      .then(config => {
        serverDefaultProject = config.default_project || '';
      })
      .catch(() => undefined); // the project load below shows the error.
    // Choose the first project only when the settings, the server's default and the saved
    // sidebar state are known.
    void Promise.all([settingsLoaded, configLoaded, stateRestored]).then(() => {
      model.defaultProject = settings.defaultProject || serverDefaultProject;
      return model.loadProjects();
    });

    const { commands } = app;
    commands.addCommand(CommandIDs.openSidebar, {
      label: 'labtrack: Show Experiments',
      execute: () => app.shell.activateById(sidebar.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'labtrack: Refresh Experiments',
      execute: () => model.loadProjects()
    });
    commands.addCommand(CommandIDs.openTask, {
      label: args =>
        args.id
          ? `labtrack: Open Experiment ${String(args.id).slice(0, 8)}`
          : 'labtrack: Open Experiment',
      isVisible: args => !!args.id,
      execute: args => {
        if (args.id) {
          openTask(String(args.id));
        }
      }
    });
    // With `{"ids": [...]}` it compares those tasks instead of the sidebar's selection.
    const idsOf = (args: ReadonlyPartialJSONObject): string[] =>
      Array.isArray(args.ids) ? args.ids.map(String) : [...model.selected];
    commands.addCommand(CommandIDs.compareSelected, {
      label: args => `labtrack: Compare Selected Experiments (${idsOf(args).length})`,
      isEnabled: args => idsOf(args).length >= 2,
      execute: args => compare(idsOf(args))
    });
    commands.addCommand(CommandIDs.clearSelection, {
      label: 'labtrack: Clear Experiment Selection',
      isEnabled: () => model.selected.size > 0,
      execute: () => model.clearSelection()
    });
    model.selectionChanged.connect(() => {
      commands.notifyCommandChanged(CommandIDs.compareSelected);
      commands.notifyCommandChanged(CommandIDs.clearSelection);
    });

    const onTracked = () => void model.loadProjects();
    commands.addCommand(CommandIDs.trackNotebook, {
      label: 'labtrack: Track This Notebook',
      caption: 'Snapshot the notebook into a labtrack task and attach its kernel',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async () => {
        const panel = notebooks?.currentWidget;
        if (panel) {
          return trackPanel(panel, onTracked);
        }
      }
    });
    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.compareSelected,
        CommandIDs.clearSelection,
        CommandIDs.trackNotebook
      ]) {
        palette.addItem({ command, category: 'labtrack' });
      }
    }
    app.docRegistry.addWidgetExtension('Notebook', new TrackExtension(onTracked));
  }
};

