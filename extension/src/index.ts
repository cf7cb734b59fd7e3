/**
 * labtrack's JupyterLab plugin: the experiments sidebar, task and compare views, Track, and
 * their commands and settings.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { getConfig } from './api';
import { createComparePanel } from './components/ComparePanel';
import { SidebarWidget } from './components/Sidebar';
import { createTaskView } from './components/TaskView';
import { ExperimentsModel } from './model';
import { TrackExtension, trackPanel } from './track';
import { CommandIDs, DEFAULT_SETTINGS, ILabtrackSettings, PLUGIN_ID } from './tokens';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M3 20h18v2H3z"/><path d="M5 17l4-6 4 3 5-8 2 1.3-6.2 9.9-4-3L6.7 18z"/>
<circle cx="9" cy="11" r="1.6"/><circle cx="13" cy="14" r="1.6"/><circle cx="18" cy="6" r="1.6"/></g></svg>`;

export const labtrackIcon = new LabIcon({ name: 'labtrack:icon', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Experiment tracking inside JupyterLab: sidebar, task view, Track, compare.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null
  ) => {
    let settings: ILabtrackSettings = { ...DEFAULT_SETTINGS };
    const currentSettings = () => settings;
    const model = new ExperimentsModel();
    const views = new Map<string, MainAreaWidget>();

    const openTask = (id: string) => {
      let view = views.get(id);
      if (!view || view.isDisposed) {
        view = createTaskView(id, currentSettings);
        views.set(id, view);
        view.disposed.connect(() => views.delete(id));
        app.shell.add(view, 'main');
      }
      app.shell.activateById(view.id);
    };
    const compare = (ids: string[]) => {
      const panel = createComparePanel(ids, currentSettings);
      app.shell.add(panel, 'main');
      app.shell.activateById(panel.id);
    };

    const sidebar = new SidebarWidget(model, { openTask, compare });
    sidebar.title.icon = labtrackIcon;
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'labtrack-sidebar');

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
    // Choose the first project only when both the settings and the server's default are known.
    void Promise.all([settingsLoaded, configLoaded]).then(() => {
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

export default plugin;
