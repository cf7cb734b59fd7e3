/**
 * A notebook's remote run: the task Run remotely made, followed by polling it through the proxy
 * until it ends, then looking for the executed notebook the agent uploads.
 *
 * One `RemoteRun` per notebook panel; a new Run remotely replaces the run it follows. Polling is
 * quick while the notebook is visible and slow while it is hidden, and stops once the run has
 * ended and its result was found (or given up on), or when the panel closes.
 */
import { Signal } from '@lumino/signaling';

import { getTask, listArtifacts } from '../api';
import { LabtrackError } from '../request';
import { ITask } from '../tokens';
import { getWorker, IRunRemotelyRequest, runRemotely } from './api';

/** The artifact the agent uploads for a notebook task (labtrack/agent/execution.py). */
export const EXECUTED_NOTEBOOK = 'executed_notebook';

export type RemotePhase =
  | 'idle'
  | 'sending'
  | 'created'
  | 'queued'
  | 'running'
  | 'completed'
  | 'failed'
  | 'stopped'
  | 'error';

const ENDED: Partial<Record<string, RemotePhase>> = {
  completed: 'completed',
  published: 'completed',
  failed: 'failed',
  stopped: 'stopped'
};

/** Phases in which the task may still change (polling goes on). */
const ACTIVE = new Set<RemotePhase>(['sending', 'created', 'queued', 'running']);

/** Milliseconds between polls while the notebook is visible / hidden. */
const POLL_VISIBLE_MS = 1000;
const POLL_HIDDEN_MS = 10000;
/** How long after the end to keep looking for the executed notebook (the upload may trail). */
const RESULT_GRACE_MS = 15000;

export function messageOf(error: unknown): string {
  return error instanceof LabtrackError || error instanceof Error ? error.message : String(error);
}

export class RemoteRun {
  readonly changed = new Signal<this, void>(this);
  phase: RemotePhase = 'idle';
  taskId = '';
  task: ITask | null = null;
  queueName = '';
  workerName = '';
  /** The last problem (a refused request, a failed poll), for the button's tooltip. */
  message = '';
  /** The executed notebook exists (the agent uploaded it). */
  resultReady = false;

  /** `isVisible`: whether the notebook is on screen (polls slow down while it is not). */
  constructor(private readonly isVisible: () => boolean) {}

  get isActive(): boolean {
    return ACTIVE.has(this.phase);
  }

  /** Create and enqueue the task; throws the server's message when it refuses. */
  async submit(request: IRunRemotelyRequest): Promise<string> {
    this.stopPolling();
    this.set({
      phase: 'sending',
      taskId: '',
      task: null,
      queueName: request.queue,
      workerName: '',
      message: '',
      resultReady: false
    });
    try {
      const answer = await runRemotely(request);
      this.set({ taskId: answer.task_id, queueName: answer.queue.name });
      this.apply(answer.task);
      this.schedule(0);
      return answer.task_id;
    } catch (error) {
      this.set({ phase: 'error', message: messageOf(error) });
      throw error;
    }
  }

  dispose(): void {
    this._disposed = true;
    this.stopPolling();
    Signal.clearData(this);
  }

  private set(values: Partial<RemoteRun>): void {
    Object.assign(this, values);
    this.changed.emit();
  }

  private stopPolling(): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
    this._generation++;
  }

  private schedule(delay: number): void {
    if (this._disposed) {
      return;
    }
    const generation = this._generation;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      void this.poll(generation);
    }, delay);
  }

  private async poll(generation: number): Promise<void> {
    const interval = this.isVisible() ? POLL_VISIBLE_MS : POLL_HIDDEN_MS;
    try {
      const task = await getTask(this.taskId);
      if (generation !== this._generation) {
        return; // a newer run replaced this one meanwhile
      }
      await this.describeWorker(task);
      this.apply(task);
      if (!this.isActive) {
        await this.findResult(generation);
        return;
      }
      this.message = '';
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      // A missed poll (the server restarting, a network blip) is retried; the tooltip says why.
      this.set({ message: `Could not read the remote task: ${messageOf(error)}` });
    }
    this.schedule(interval);
  }

  /** The name of the worker running the task (workers are named, the task holds the id). */
  private async describeWorker(task: ITask & { worker?: string | null }): Promise<void> {
    const id = task.worker ?? '';
    if (!id || id === this._workerId) {
      return;
    }
    try {
      this.workerName = (await getWorker(id)).name;
    } catch {
      this.workerName = id.slice(0, 8); // a worker removed meanwhile: its id still tells it apart
    }
    this._workerId = id;
  }

  private apply(task: ITask): void {
    const ended = ENDED[task.status];
    const waiting: RemotePhase = task.status === 'queued' ? 'queued' : 'created';
    const phase: RemotePhase = ended ?? (task.status === 'in_progress' ? 'running' : waiting);
    this.set({ task, phase });
  }

  /** Look for the executed notebook, a few times: the agent uploads it as the run ends. */
  private async findResult(generation: number): Promise<void> {
    const deadline = Date.now() + RESULT_GRACE_MS;
    while (!this._disposed && generation === this._generation) {
      try {
        const artifacts = await listArtifacts(this.taskId);
        if (artifacts.items.some(a => a.key === EXECUTED_NOTEBOOK)) {
          this.set({ resultReady: true });
          return;
        }
      } catch (error) {
        this.message = `Could not list the remote task's artifacts: ${messageOf(error)}`;
      }
      if (Date.now() > deadline) {
        this.changed.emit();
        return;
      }
      await new Promise(resolve => setTimeout(resolve, POLL_VISIBLE_MS));
    }
  }

  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _generation = 0;
  private _disposed = false;
  private _workerId = '';
}
