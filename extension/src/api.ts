/**
 * Typed calls of the tracking-server API (docs/api.md) and the server extension's helpers.
 *
 * Everything goes through request.ts; this module only names endpoints and their shapes.
 */
import {
  IArtifact,
  IConsoleLine,
  IDataset,
  IDatasetFile,
  IDatasetUser,
  ILabtrackConfig,
  IMetricInfo,
  IModel,
  IModelDetail,
  IPage,
  IPlotEvent,
  IProject,
  IQueue,
  IQueueEntry,
  IScalarSeries,
  ITableEvent,
  ITask,
  ITrackResponse,
  IWorker
} from './tokens';
import { apiGet, postJSON, requestAPI, requestRaw } from './request';

/** Filters and ordering of the experiment list. */
export interface ITaskQuery {
  projectId: string;
  search: string;
  statuses: string[];
  tags: string[];
  sort: string;
  /** Show the archived runs (only them) instead of the others. */
  archived: boolean;
}

export function getConfig(): Promise<ILabtrackConfig> {
  return requestAPI<ILabtrackConfig>('config');
}

export function listProjects(cursor?: string): Promise<IPage<IProject>> {
  return apiGet<IPage<IProject>>('projects', { limit: 1000, cursor });
}

/** Every project (follows the cursor; project counts are small). */
export async function listAllProjects(): Promise<IProject[]> {
  const all: IProject[] = [];
  let cursor: string | undefined = undefined;
  for (let i = 0; i < 20; i++) {
    const page: IPage<IProject> = await listProjects(cursor);
    all.push(...page.items);
    if (!page.next_cursor) {
      break;
    }
    cursor = page.next_cursor;
  }
  return all;
}

export function listTasks(
  query: ITaskQuery,
  limit: number,
  cursor?: string | null,
  updatedAfter?: string
): Promise<IPage<ITask>> {
  return apiGet<IPage<ITask>>('tasks', {
    project_id: query.projectId,
    search: query.search.trim(),
    status: query.statuses.join(','),
    tags: query.tags.join(','),
    archived: query.archived ? 'true' : undefined,
    sort: query.sort,
    limit,
    cursor: cursor ?? undefined,
    updated_after: updatedAfter
  });
}

/**
 * Tasks of the query's project changed at or after `since` (a server `last_update`), newest
 * change first. Status, tag and search filters are left to the caller, so a run that stops
 * matching them is seen too; archived runs come back so the list can drop them.
 */
export function listChangedTasks(
  query: ITaskQuery,
  since: string | null,
  limit: number
): Promise<IPage<ITask>> {
  return apiGet<IPage<ITask>>('tasks', {
    project_id: query.projectId,
    archived: 'all',
    sort: '-last_update',
    limit,
    updated_after: since ?? undefined
  });
}

export function getTasksByIds(ids: string[]): Promise<IPage<ITask>> {
  return apiGet<IPage<ITask>>('tasks', {
    ids: ids.join(','),
    limit: Math.min(1000, Math.max(1, ids.length)),
    archived: undefined
  });
}

export function getTask(id: string): Promise<ITask> {
  return apiGet<ITask>(`tasks/${id}`);
}

/** The fields of a task the run actions change (`PATCH /tasks/{id}`). */
export interface ITaskPatch {
  name?: string;
  tags?: string[];
  project_id?: string;
  archived?: boolean;
  comment?: string;
  /** Sections named here replace the task's (a draft's values, edited before it runs). */
  hyperparams?: ITask['hyperparams'];
}

/** Send JSON to a tracking-server endpoint with `method`; parse the answer. */
function apiSend<T>(method: string, path: string, body?: unknown): Promise<T> {
  return requestAPI<T>(`api/v1/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? undefined : { 'Content-Type': 'application/json' }
  });
}

export function patchTask(id: string, patch: ITaskPatch): Promise<ITask> {
  return apiSend<ITask>('PATCH', `tasks/${id}`, patch);
}

/** Delete a task with its events and artifacts. */
export function deleteTask(id: string): Promise<void> {
  return apiSend<void>('DELETE', `tasks/${id}`);
}

/**
 * A status action of the server's state machine (docs/api.md). `stop` on a running task only
 * asks its process to stop (it sees the request on its next contact and ends `stopped`); a
 * second `stop` forces it.
 */
export function taskAction(
  id: string,
  action: 'stop' | 'publish',
  body: { reason?: string; force?: boolean } = {}
): Promise<ITask> {
  return apiSend<ITask>('POST', `tasks/${id}/${action}`, body);
}

/** A new `created` task with the same code, parameters and configuration (parent = `id`). */
export function cloneTask(id: string, name?: string): Promise<ITask> {
  return apiSend<ITask>('POST', `tasks/${id}/clone`, name ? { name } : {});
}

export function createProject(name: string): Promise<IProject> {
  return apiSend<IProject>('POST', 'projects', { name });
}

export async function getMetrics(id: string): Promise<IMetricInfo[]> {
  const page = await apiGet<{ items: IMetricInfo[] }>(`tasks/${id}/metrics`);
  return page.items;
}

/** Every variant of one metric for several tasks, downsampled into `buckets`. */
export async function getScalarsForTasks(
  taskIds: string[],
  metric: string,
  buckets: number
): Promise<IScalarSeries[]> {
  const items: IScalarSeries[] = [];
  // The server serves at most 100 tasks per call.
  for (let i = 0; i < taskIds.length; i += 100) {
    const page = await apiGet<{ items: IScalarSeries[] }>('scalars', {
      task_ids: taskIds.slice(i, i + 100).join(','),
      metric,
      buckets
    });
    items.push(...page.items);
  }
  return items;
}

/** One variant of one task in an iteration range: raw points, or buckets when given. */
export function getScalarRange(
  taskId: string,
  metric: string,
  variant: string,
  start: number,
  end: number,
  options: { buckets?: number; limit?: number } = {}
): Promise<IScalarSeries> {
  return apiGet<IScalarSeries>(`tasks/${taskId}/scalars`, {
    metric,
    variant,
    start: Math.floor(start),
    end: Math.ceil(end),
    buckets: options.buckets,
    limit: options.limit
  });
}

export function getConsoleTail(id: string, tail: number): Promise<IPage<IConsoleLine>> {
  return apiGet<IPage<IConsoleLine>>(`tasks/${id}/console`, { tail });
}

export function getConsoleAfter(id: string, after: number): Promise<IPage<IConsoleLine>> {
  return apiGet<IPage<IConsoleLine>>(`tasks/${id}/console`, { after, limit: 1000 });
}

export function getPlots(id: string): Promise<IPage<IPlotEvent>> {
  return apiGet<IPage<IPlotEvent>>(`tasks/${id}/plots`, { limit: 100 });
}

export function getTables(id: string): Promise<IPage<ITableEvent>> {
  return apiGet<IPage<ITableEvent>>(`tasks/${id}/tables`, { limit: 100 });
}

export function listArtifacts(id: string): Promise<IPage<IArtifact>> {
  return apiGet<IPage<IArtifact>>(`tasks/${id}/artifacts`, { limit: 1000 });
}

export function trackNotebook(body: {
  path: string;
  task_id?: string;
  project?: string;
}): Promise<ITrackResponse> {
  return postJSON<ITrackResponse>('notebooks/track', body);
}

export function snapshotNotebook(body: { path: string; task_id: string }): Promise<unknown> {
  return postJSON<unknown>('notebooks/snapshot', body);
}

/** Download a task artifact's bytes through the proxy (the key never reaches the browser). */
export async function fetchArtifactBlob(taskId: string, key: string): Promise<Blob> {
  const response = await requestRaw(
    `api/v1/tasks/${taskId}/artifacts/${encodeURIComponent(key)}/content`,
    { method: 'GET' }
  );
  return response.blob();
}

/** Every page of a cursor-paged list, up to `maxPages` (lists never return unbounded pages). */
async function allPages<T>(
  read: (cursor?: string) => Promise<IPage<T>>,
  maxPages: number
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let cursor: string | undefined = undefined;
  for (let i = 0; i < maxPages; i++) {
    const page: IPage<T> = await read(cursor);
    items.push(...page.items);
    if (!page.next_cursor) {
      return { items, complete: true };
    }
    cursor = page.next_cursor;
  }
  return { items, complete: false };
}

/** Dataset versions, newest first: every project's, or one project's (by name). */
export function listDatasets(
  project?: string,
  maxPages = 10,
  limit = 1000
): Promise<{ items: IDataset[]; complete: boolean }> {
  return allPages(
    cursor => apiGet<IPage<IDataset>>('datasets', { project, limit, cursor }),
    maxPages
  );
}

export function getDataset(id: string): Promise<IDataset> {
  return apiGet<IDataset>(`datasets/${id}`);
}

/** One page of a version's manifest, by path. */
export function listDatasetFiles(
  id: string,
  cursor?: string | null,
  limit = 2000
): Promise<IPage<IDatasetFile>> {
  return apiGet<IPage<IDatasetFile>>(`datasets/${id}/files`, {
    limit,
    cursor: cursor ?? undefined
  });
}

/** A version's whole manifest (for the diff), 10,000 entries a request. */
export async function allDatasetFiles(id: string): Promise<IDatasetFile[]> {
  const { items } = await allPages(cursor => listDatasetFiles(id, cursor, 10000), 1000);
  return items;
}

/** This version, then its ancestors, nearest first. */
export async function getDatasetLineage(id: string): Promise<IDataset[]> {
  const page = await apiGet<{ items: IDataset[] }>(`datasets/${id}/lineage`);
  return page.items;
}

/** The tasks that recorded the version as an input, newest first. */
export async function getDatasetUsers(id: string): Promise<IDatasetUser[]> {
  const page = await apiGet<{ items: IDatasetUser[] }>(`datasets/${id}/tasks`, { limit: 1000 });
  return page.items;
}

/** Filters of the model registry list. */
export interface IModelQuery {
  project: string;
  search: string;
  tags: string[];
  frameworks: string[];
}

export function listModels(
  query: IModelQuery,
  cursor?: string | null,
  limit = 200
): Promise<IPage<IModel>> {
  return apiGet<IPage<IModel>>('models', {
    project: query.project,
    search: query.search.trim(),
    tags: query.tags.join(','),
    framework: query.frameworks.join(','),
    sort: '-created',
    limit,
    cursor: cursor ?? undefined
  });
}

export function getModel(id: string): Promise<IModelDetail> {
  return apiGet<IModelDetail>(`models/${id}`);
}

export async function listQueues(): Promise<IQueue[]> {
  const page = await apiGet<IPage<IQueue>>('queues', { limit: 1000 });
  return page.items;
}

/** The tasks waiting in a queue, in pop order. */
export async function listQueueEntries(queue: string): Promise<IQueueEntry[]> {
  const page = await apiGet<IPage<IQueueEntry>>(`queues/${encodeURIComponent(queue)}/entries`, {
    limit: 1000
  });
  return page.items;
}

/** Move a waiting task: `top`, `bottom` or a 0-based index in pop order. */
export function moveQueueEntry(
  queue: string,
  taskId: string,
  position: 'top' | 'bottom' | number
): Promise<IQueueEntry> {
  return apiSend<IQueueEntry>('PATCH', `queues/${encodeURIComponent(queue)}/entries/${taskId}`, {
    position
  });
}

/** Take a task out of its queue (it goes back to `created`). */
export function removeQueueEntry(queue: string, taskId: string): Promise<void> {
  return apiSend<void>('DELETE', `queues/${encodeURIComponent(queue)}/entries/${taskId}`);
}

/** Put a created, stopped or failed task in a queue (id or name). */
export function enqueueTask(taskId: string, queue: string): Promise<ITask> {
  return apiSend<ITask>('POST', `tasks/${taskId}/enqueue`, { queue });
}

/** Active workers (`status=all` adds the ones gone). */
export async function listWorkers(status: 'active' | 'all' = 'active'): Promise<IWorker[]> {
  const page = await apiGet<IPage<IWorker>>('workers', { status, limit: 1000 });
  return page.items;
}
