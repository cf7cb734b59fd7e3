/**
 * The queues plugin: the Queues left panel (queues, their waiting tasks, workers) and its
 * commands. Enqueueing a task is a run action of the experiments plugin (experiments/commands.ts).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { queuesIcon } from '../icons';
import { addPanel } from '../panels';
import { CommandIDs } from '../tokens';
import { QueuesModel } from './model';
import { QueuesSidebar } from './Sidebar';

export const queuesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'labtrack:queues',
  description: 'labtrack queues: waiting tasks (reorder, remove) and workers (current task, use).',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands } = app;
    const model = new QueuesModel();
    addPanel({
      app,
      restorer,
      palette,
      settingRegistry,
      icon: queuesIcon,
      rank: 853,
      createPanel: () =>
        new QueuesSidebar(model, {
          openTask: id => void commands.execute(CommandIDs.openTask, { id }),
          // The run action asks for confirmation; the panel shows the result once it is done.
          abortTask: id =>
            void commands.execute(CommandIDs.abortTasks, { ids: [id] }).then(() => model.load())
        }),
      load: () => model.load(),
      startPolling: (seconds, isVisible) => model.startPolling(seconds, isVisible),
      commands: {
        show: { id: CommandIDs.openQueues, label: 'labtrack: Show Queues' },
        refresh: { id: CommandIDs.refreshQueues, label: 'labtrack: Refresh Queues' }
      }
    });
  }
};
