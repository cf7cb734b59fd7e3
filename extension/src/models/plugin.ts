/**
 * The models plugin: the Models left panel (the registry), a main-area page per model
 * (reopened after a reload), and their commands.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { modelsIcon } from '../icons';
import { addPanel } from '../panels';
import { CommandIDs } from '../tokens';
import { ModelViewWidget } from './ModelView';
import { ModelsModel } from './model';
import { ModelsSidebar } from './Sidebar';

export const modelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'labtrack:models',
  description: 'labtrack models: the registry, and each model with the tasks that made and used it.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const model = new ModelsModel();
    const openTask = (id: string) => void app.commands.execute(CommandIDs.openTask, { id });
    addPanel({
      app,
      restorer,
      palette,
      settingRegistry,
      icon: modelsIcon,
      rank: 852,
      pages: {
        namespace: 'labtrack-model',
        create: id => new ModelViewWidget(id, openTask),
        open: { id: CommandIDs.openModel, label: 'labtrack: Open Model' }
      },
      createPanel: open => new ModelsSidebar(model, open),
      load: () => model.load(),
      startPolling: (seconds, isVisible) => model.startPolling(seconds, isVisible),
      commands: {
        show: { id: CommandIDs.openModels, label: 'labtrack: Show Models' },
        refresh: { id: CommandIDs.refreshModels, label: 'labtrack: Refresh Models' }
      }
    });
  }
};
