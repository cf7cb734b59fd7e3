/**
 * State of the queues panel: every queue with the tasks waiting in it (in pop order) and the
 * workers with what they run, re-read while the panel is visible; the queue actions (move a
 * task, remove it) re-read at once.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  listQueueEntries,
  listQueues,
  listWorkers,
  moveQueueEntry,
  removeQueueEntry
} from '../api';
import { IQueue, IQueueEntry, IWorker } from '../tokens';
import { errorText, VisiblePoller } from '../components/panel';

/** At most this many queues have their entries read on each refresh (the rest on demand). */
const MAX_QUEUES_READ = 20;

export class QueuesModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  queues: IQueue[] = [];
  entries = new Map<string, IQueueEntry[]>();
  workers: IWorker[] = [];
  /** True until the first load has answered (the panel loads on its first show). */
  loading = true;
  error: string | null = null;
  stale: string | null = null;
  /** The last action's failure, in the server's words (shown above the queues). */
  actionError: string | null = null;
  /** Show the workers that are gone too. */
  showGone = false;

  async load(): Promise<void> {
    const seq = ++this._seq;
    try {
      const [queues, workers] = await Promise.all([
        listQueues(),
        listWorkers(this.showGone ? 'all' : 'active')
      ]);
      // Entries of the queues that have any (an empty queue needs no request).
      const busy = queues.filter(q => q.pending > 0).slice(0, MAX_QUEUES_READ);
      const lists = await Promise.all(busy.map(q => listQueueEntries(q.id)));
      if (seq !== this._seq) {
        return;
      }
      this.queues = queues;
      this.workers = workers;
      this.entries = new Map(busy.map((q, i) => [q.id, lists[i]]));
      this.error = null;
      this.stale = null;
      this._loaded = true;
    } catch (error) {
      if (seq !== this._seq) {
        return;
      }
      if (this._loaded) {
        this.stale = errorText(error);
      } else {
        this.error = errorText(error);
      }
    } finally {
      if (seq === this._seq) {
        this.loading = false;
        this._changed.emit();
      }
    }
  }

  setShowGone(on: boolean): void {
    this.showGone = on;
    void this.load();
  }

  /** Move a waiting task to `top`, `bottom` or an index in pop order. */
  move(queue: string, taskId: string, position: 'top' | 'bottom' | number): Promise<void> {
    return this.act(() => moveQueueEntry(queue, taskId, position));
  }

  /** Take a task out of its queue (it goes back to created). */
  remove(queue: string, taskId: string): Promise<void> {
    return this.act(() => removeQueueEntry(queue, taskId));
  }

  startPolling(seconds: number, isVisible: () => boolean): void {
    this._poller.start(seconds, isVisible);
  }

  dispose(): void {
    this._poller.stop();
    Signal.clearData(this);
  }

  private async act(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
      this.actionError = null;
    } catch (error) {
      this.actionError = errorText(error);
    }
    await this.load();
  }

  private _changed = new Signal<this, void>(this);
  private _loaded = false;
  private _seq = 0;
  private _poller = new VisiblePoller(() => this.load());
}
