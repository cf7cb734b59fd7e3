/**
 * Public types, command ids and constants of the labtrack lab extension.
 *
 * The interfaces mirror the tracking server's REST API (docs/api.md); only the fields the
 * frontend reads are typed.
 */

/** The id of the main plugin; settings live under this id too. */
export const PLUGIN_ID = 'labtrack:plugin';

/** Command ids registered by the extension (all are in the command palette). */
export namespace CommandIDs {
  export const openSidebar = 'labtrack:open-sidebar';
  export const refresh = 'labtrack:refresh';
  export const openTask = 'labtrack:open-task';
  export const compareSelected = 'labtrack:compare-selected';
  export const clearSelection = 'labtrack:clear-selection';
  export const trackNotebook = 'labtrack:track-notebook';
  // Run actions (commands.ts): on a row's context menu, the task view's Actions menu, the
  // selection's Actions menu and the palette. `{"ids": [...]}` names the runs; without it they
  // act on the right-clicked row (or the selection it belongs to), the sidebar's selection, or
  // the task view in front.
  export const renameTask = 'labtrack:rename-task';
  export const editTags = 'labtrack:edit-tags';
  export const moveTasks = 'labtrack:move-tasks';
  export const cloneTasks = 'labtrack:clone-tasks';
  export const abortTasks = 'labtrack:abort-tasks';
  export const publishTasks = 'labtrack:publish-tasks';
  export const archiveTasks = 'labtrack:archive-tasks';
  export const restoreTasks = 'labtrack:restore-tasks';
  export const deleteTasks = 'labtrack:delete-tasks';
  export const createProject = 'labtrack:create-project';
  export const toggleArchived = 'labtrack:toggle-archived';
  // Datasets and models panels.
  export const openDatasets = 'labtrack:open-datasets';
  export const refreshDatasets = 'labtrack:refresh-datasets';
  export const openDataset = 'labtrack:open-dataset';
  export const openModels = 'labtrack:open-models';
  export const refreshModels = 'labtrack:refresh-models';
  export const openModel = 'labtrack:open-model';
  // Queues panel and the enqueue run action.
  export const openQueues = 'labtrack:open-queues';
  export const refreshQueues = 'labtrack:refresh-queues';
  export const enqueueTasks = 'labtrack:enqueue-tasks';
}

/** The run actions in menu order (null: a separator). */
export const RUN_ACTIONS: Array<string | null> = [
  CommandIDs.renameTask,
  CommandIDs.editTags,
  CommandIDs.moveTasks,
  null,
  CommandIDs.cloneTasks,
  CommandIDs.enqueueTasks,
  CommandIDs.abortTasks,
  CommandIDs.publishTasks,
  null,
  CommandIDs.archiveTasks,
  CommandIDs.restoreTasks,
  CommandIDs.deleteTasks
];

/** Task status values as the server reports them. */
export type TaskStatus =
  'created' | 'queued' | 'in_progress' | 'completed' | 'failed' | 'stopped' | 'published';

export const TASK_STATUSES: TaskStatus[] = [
  'created',
  'queued',
  'in_progress',
  'completed',
  'failed',
  'stopped',
  'published'
];

/** A page of any list endpoint. */
export interface IPage<T> {
  items: T[];
  next_cursor: string | null;
}

export interface IProject {
  id: string;
  name: string;
  description: string;
  created: string;
  task_count: number;
}

/** last/min/max of one metric variant, kept by the server on ingest. */
export interface IMetricSummary {
  last: number | null;
  min: number | null;
  max: number | null;
  last_iteration: number;
  count: number;
}

export interface IHyperParam {
  value: string;
  type: string;
  description: string;
}

export interface IScript {
  repository: string;
  branch: string;
  commit: string;
  diff: string;
  entry_point: string;
  working_dir: string;
  argv: string[];
  requirements: string;
  notebook: INotebookSnapshot | null;
  notebook_path: string;
}

/** The subset of an nbformat v4 document that the code view renders. */
export interface INotebookSnapshot {
  cells?: Array<{ cell_type: string; source: string | string[] }>;
  [key: string]: unknown;
}

export interface IRuntime {
  hostname: string;
  python: string;
  os: string;
  cpu_count: number;
  memory_gb: number;
  gpus: unknown[];
}

export interface ITask {
  id: string;
  project_id: string;
  project_name: string;
  name: string;
  type: string;
  status: TaskStatus;
  status_reason: string;
  status_message: string;
  archived?: boolean;
  stop_requested?: boolean;
  /** The task this one was cloned from. */
  parent_id?: string | null;
  /** 1 for the oldest task of this name in the project (by creation), and how many share it. */
  run_number?: number;
  run_count?: number;
  tags: string[];
  comment: string;
  user: string;
  created: string;
  started: string | null;
  last_update: string | null;
  completed: string | null;
  last_iteration: number | null;
  last_metrics: Record<string, Record<string, IMetricSummary>>;
  hyperparams: Record<string, Record<string, IHyperParam>>;
  configuration?: Record<string, { value: string; content_type: string }>;
  script?: IScript;
  runtime?: IRuntime;
}

export interface IMetricInfo {
  metric: string;
  variant: string;
  count: number;
  last: number | null;
  min: number | null;
  max: number | null;
  last_iteration: number;
}

/** A scalar series, raw or downsampled (then min/max/count are present). */
export interface IScalarSeries {
  task_id?: string;
  metric: string;
  variant: string;
  iterations: number[];
  values: Array<number | null>;
  min?: Array<number | null>;
  max?: Array<number | null>;
  count?: number[];
  buckets?: number;
  next_cursor?: string | null;
}

export interface IConsoleLine {
  seq: number;
  time: string;
  stream: string;
  text: string;
}

export interface IPlotEvent {
  seq: number;
  metric: string;
  variant: string;
  iteration: number;
  figure: { data?: unknown[]; layout?: Record<string, unknown> };
}

export interface ITableEvent {
  seq: number;
  metric: string;
  variant: string;
  iteration: number;
  columns: string[];
  rows: unknown[][];
}

export interface IArtifact {
  key: string;
  type: string;
  uri: string;
  filename: string;
  size: number | null;
  sha256: string;
  preview: string;
  metadata: Record<string, unknown>;
  created: string;
  external: boolean;
}

/** A dataset version (`GET /datasets`, docs/api.md#datasets-and-blobs). */
export interface IDataset {
  id: string;
  project: string;
  project_id: string;
  name: string;
  version: string;
  state: 'draft' | 'final';
  description: string;
  user: string;
  file_count: number;
  total_size: number;
  created: string;
  finalized: string | null;
  parents: string[];
}

/** One manifest entry of a version. */
export interface IDatasetFile {
  path: string;
  size: number;
  sha256: string;
}

/** A task that recorded a version as its input (`GET /datasets/{id}/tasks`). */
export interface IDatasetUser {
  task_id: string;
  name: string;
  alias: string;
  recorded: string;
}

/** A registered model (`GET /models`, docs/api.md#models). */
export interface IModel {
  id: string;
  name: string;
  project: string;
  project_id: string;
  framework: string;
  comment: string;
  task: { id: string; name: string | null } | null;
  user: string;
  tags: string[];
  labels: Record<string, number>;
  metadata: Record<string, { value: string; type: string }>;
  uri: string;
  filename: string;
  size: number | null;
  sha256: string | null;
  published: boolean;
  created: string;
  last_update: string;
  published_at: string | null;
}

/** `GET /models/{id}`: the model and the tasks that used it. */
export interface IModelDetail extends IModel {
  used_by: Array<{ task_id: string; name: string; status: string; link_name: string; recorded: string }>;
  used_by_count: number;
}

/** A queue of tasks waiting for an agent (`GET /queues`). */
export interface IQueue {
  id: string;
  name: string;
  description: string;
  created: string;
  pending: number;
  /** Ids of the active workers that pull it. */
  workers: string[];
}

/** A task waiting in a queue, in pop order (`GET /queues/{queue}/entries`). */
export interface IQueueEntry {
  task_id: string;
  queue: string;
  priority: number;
  enqueued: string;
  task: { id: string; name: string; project: string; status: string; user: string };
}

/** An agent (`GET /workers`): what it pulls, runs and uses. */
export interface IWorker {
  id: string;
  name: string;
  queues: string[];
  status: 'active' | 'gone';
  registered: string;
  last_heartbeat: string;
  current_task: { id: string; name: string; status: string } | null;
  resources: {
    hostname?: string;
    cpu_count?: number;
    memory_total?: number;
    gpus?: Array<{ index?: number; name?: string; memory_total?: number }>;
  };
  usage: {
    cpu_percent?: number | null;
    memory_used?: number | null;
    gpus?: Array<{ index?: number; utilization?: number | null; memory_used?: number | null }>;
  } | null;
}

/** `GET /labtrack/config` from the server extension. */
export interface ILabtrackConfig {
  connected: boolean;
  server_url: string;
  embedded: boolean;
  default_project: string;
  version: string;
}

/** `POST /labtrack/notebooks/track` response. */
export interface ITrackResponse {
  task_id: string;
  project_id: string;
  task: ITask;
  attach_code: string;
}

/** The user's settings (schema/plugin.json). */
export interface ILabtrackSettings {
  refreshInterval: number;
  defaultProject: string;
  chartBuckets: number;
}

export const DEFAULT_SETTINGS: ILabtrackSettings = {
  refreshInterval: 5,
  defaultProject: '',
  chartBuckets: 600
};
