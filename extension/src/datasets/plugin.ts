/**
 * The datasets plugin: the Datasets left panel, a main-area page per version (reopened after a
 * reload), and their commands.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { datasetsIcon } from '../icons';
import { addPanel } from '../panels';
import { CommandIDs } from '../tokens';
import { DatasetViewWidget } from './DatasetView';
import { DatasetsModel } from './model';
import { DatasetsSidebar } from './Sidebar';

export const datasetsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'labtrack:datasets',
  description: 'labtrack datasets: versions, files, lineage, diff and the tasks that used them.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const model = new DatasetsModel();
    const openTask = (id: string) => void app.commands.execute(CommandIDs.openTask, { id });
    const openDataset: (id: string) => void = addPanel({
      app,
      restorer,
      palette,
      settingRegistry,
      icon: datasetsIcon,
      rank: 851,
      pages: {
        namespace: 'labtrack-dataset',
        create: id => new DatasetViewWidget(id, { openDataset, openTask }),
        open: { id: CommandIDs.openDataset, label: 'labtrack: Open Dataset Version' }
      },
      createPanel: open => new DatasetsSidebar(model, open),
      load: () => model.load(),
      startPolling: (seconds, isVisible) => model.startPolling(seconds, isVisible),
      commands: {
        show: { id: CommandIDs.openDatasets, label: 'labtrack: Show Datasets' },
        refresh: { id: CommandIDs.refreshDatasets, label: 'labtrack: Refresh Datasets' }
      }
    });
  }
};
