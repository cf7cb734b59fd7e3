/**
 * The calls Run remotely makes: the server extension's enqueue endpoint and the tracking-server
 * reads of the remote task (through the proxy, as every other panel: request.ts is the only
 * module that calls the Jupyter server).
 */
import { apiGet, postJSON } from '../request';
import { ITask, IWorker } from '../tokens';

/** `POST /labtrack/notebooks/run-remotely` (labtrack/server_ext/remote_run.py). */
export interface IRunRemotelyRequest {
  path: string;
  queue: string;
  /** Edited values by `Section/name`, as typed (the server checks them against each type). */
  parameters?: Record<string, string>;
  /** The notebook's tracked task: where parameters, project and name start from. */
  task_id?: string;
}

export interface IRunRemotelyResponse {
  task_id: string;
  project_id: string;
  task: ITask;
  queue: { id: string; name: string };
}

export function runRemotely(body: IRunRemotelyRequest): Promise<IRunRemotelyResponse> {
  return postJSON<IRunRemotelyResponse>('notebooks/run-remotely', body);
}

export function getWorker(id: string): Promise<IWorker> {
  return apiGet<IWorker>(`workers/${encodeURIComponent(id)}`);
}
