/**
 * labtrack's JupyterLab extension: one plugin per panel, wired together here only.
 *
 * - experiments/: the experiments sidebar, task view, Compare, run actions (and Track);
 * - datasets/: dataset versions, their files, lineage, diff and users;
 * - models/: the model registry and a model's page;
 * - queues/: queues with their waiting tasks, and the workers;
 * - remote/: Run remotely (a notebook to an agent's queue, its status, the executed notebook);
 * - charts/: chart settings and the notebook's live-chart renderer.
 *
 * Shared by all: request.ts (the only module calling the Jupyter server), api.ts (typed
 * tracking-server calls), tokens.ts, format.ts, charts/ and components/.
 */
import { chartsPlugin } from './charts/plugin';
import { datasetsPlugin } from './datasets/plugin';
import { experimentsPlugin } from './experiments/plugin';
import { modelsPlugin } from './models/plugin';
import { queuesPlugin } from './queues/plugin';
import { remotePlugin } from './remote/plugin';

export default [
  experimentsPlugin,
  datasetsPlugin,
  modelsPlugin,
  queuesPlugin,
  remotePlugin,
  chartsPlugin
];
