/**
 * The charts plugin: chart preferences from the settings registry (schema/charts.json) and the
 * live-chart renderer of notebooks.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { installLiveCharts } from './notebookChart';
import { chartPrefs } from './prefs';

/** The plugin's id; its settings are `extension/schema/charts.json`. */
export const CHARTS_PLUGIN_ID = 'labtrack:charts';

export const chartsPlugin: JupyterFrontEndPlugin<void> = {
  id: CHARTS_PLUGIN_ID,
  description:
    'labtrack charts: smoothing, log scale and x axis settings; saved live charts in notebooks.',
  autoStart: true,
  optional: [ISettingRegistry, INotebookTracker],
  activate: (
    _app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null,
    notebooks: INotebookTracker | null
  ) => {
    settingRegistry
      ?.load(CHARTS_PLUGIN_ID)
      .then(settings => chartPrefs.attach(settings))
      .catch(reason => console.warn('labtrack: chart settings not loaded, using defaults', reason));
    if (notebooks) {
      installLiveCharts(notebooks);
    }
  }
};
