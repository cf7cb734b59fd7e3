/**
 * The Queues left panel: each queue with the tasks waiting in it (move to top, up, down,
 * remove), and the workers (agents) with their current task (abort it), last heartbeat and
 * CPU / memory / GPU use.
 */
import * as React from 'react';

import { bytes, relativeTime } from '../format';
import { IQueue, IQueueEntry, IWorker } from '../tokens';
import { PanelHeader } from '../components/PanelHeader';
import { ErrorBox, SidePanel, useSignal } from '../components/panel';
import { StatusIcon } from '../components/StatusIcon';
import { QueuesModel } from './model';

/** What the panel asks of its host (the plugin wires these to commands). */
export interface IQueuesActions {
  openTask(id: string): void;
  abortTask(id: string): void;
}

function EntryRow(props: {
  queue: IQueue;
  entry: IQueueEntry;
  index: number;
  last: number;
  model: QueuesModel;
  actions: IQueuesActions;
}): JSX.Element {
  const { queue, entry, index, last, model, actions } = props;
  const t = entry.task;
  return (
    <div
      className="lt-q-entry"
      data-task-id={entry.task_id}
      title={`${t.project} / ${t.name} (${t.user}), queued ${relativeTime(entry.enqueued)}, priority ${entry.priority}\n${t.id}`}
    >
      <span className="lt-q-position">{index + 1}</span>
      <StatusIcon status={t.status} />
      <button className="lt-link lt-q-task" onClick={() => actions.openTask(t.id)}>
        {t.name}
      </button>
      <div className="lt-q-entry-actions">
        <button
          className="lt-icon-button lt-q-top"
          title="Move to the top (runs next)"
          aria-label={`Move ${t.name} to the top`}
          disabled={index === 0}
          onClick={() => void model.move(queue.id, t.id, 'top')}
        >
          ⤒
        </button>
        <button
          className="lt-icon-button lt-q-up"
          title="Move up"
          aria-label={`Move ${t.name} up`}
          disabled={index === 0}
          onClick={() => void model.move(queue.id, t.id, index - 1)}
        >
          ↑
        </button>
        <button
          className="lt-icon-button lt-q-down"
          title="Move down"
          aria-label={`Move ${t.name} down`}
          disabled={index === last}
          onClick={() => void model.move(queue.id, t.id, index + 1)}
        >
          ↓
        </button>
        <button
          className="lt-icon-button lt-q-remove"
          title="Remove from the queue (the task goes back to created)"
          aria-label={`Remove ${t.name} from ${queue.name}`}
          onClick={() => void model.remove(queue.id, t.id)}
        >
          ✕
        </button>
      </div>
      <div className="lt-task-meta lt-q-entry-meta">
        <span>{t.project}</span>
        <span>{t.user}</span>
        <span>queued {relativeTime(entry.enqueued)}</span>
        {entry.priority !== 0 && <span>priority {entry.priority}</span>}
      </div>
    </div>
  );
}

function QueueCard(props: { queue: IQueue; model: QueuesModel; actions: IQueuesActions }): JSX.Element {
  const { queue, model, actions } = props;
  const entries = model.entries.get(queue.id) ?? [];
  return (
    <div className="lt-q-queue" data-queue={queue.name}>
      <div className="lt-q-queue-head" title={queue.description || queue.name}>
        <span className="lt-q-name">{queue.name}</span>
        <span className="lt-spacer" />
        <span className="lt-q-pending" data-pending={queue.pending}>
          {queue.pending} pending
        </span>
        <span className="lt-dim">
          · {queue.workers.length} worker{queue.workers.length === 1 ? '' : 's'}
        </span>
      </div>
      {entries.map((entry, i) => (
        <EntryRow
          key={entry.task_id}
          queue={queue}
          entry={entry}
          index={i}
          last={entries.length - 1}
          model={model}
          actions={actions}
        />
      ))}
      {queue.pending > entries.length && entries.length > 0 && (
        <div className="lt-dim lt-q-more">and {queue.pending - entries.length} more</div>
      )}
    </div>
  );
}

/** "CPU 42% of 8 · 3.1 GB of 16.0 GB · GPU0 97% 10.2 GB". */
function usageText(w: IWorker): string[] {
  const parts: string[] = [];
  const u = w.usage;
  const r = w.resources ?? {};
  if (u?.cpu_percent !== undefined && u?.cpu_percent !== null) {
    parts.push(`CPU ${Math.round(u.cpu_percent)}%${r.cpu_count ? ` of ${r.cpu_count}` : ''}`);
  }
  if (u?.memory_used !== undefined && u?.memory_used !== null) {
    parts.push(`RAM ${bytes(u.memory_used)}${r.memory_total ? ` of ${bytes(r.memory_total)}` : ''}`);
  }
  for (const gpu of u?.gpus ?? []) {
    const util = gpu.utilization !== undefined && gpu.utilization !== null ? `${Math.round(gpu.utilization)}%` : '—';
    const mem = gpu.memory_used !== undefined && gpu.memory_used !== null ? ` ${bytes(gpu.memory_used)}` : '';
    parts.push(`GPU${gpu.index ?? ''} ${util}${mem}`);
  }
  if (!u?.gpus?.length && r.gpus?.length) {
    parts.push(`${r.gpus.length} GPU${r.gpus.length === 1 ? '' : 's'}`);
  }
  return parts;
}

function WorkerCard(props: {
  worker: IWorker;
  queueNames: Map<string, string>;
  actions: IQueuesActions;
}): JSX.Element {
  const { worker: w, queueNames, actions } = props;
  const usage = usageText(w);
  const task = w.current_task;
  return (
    <div className="lt-q-worker" data-worker={w.name} data-status={w.status}>
      <div className="lt-q-queue-head">
        <span className={`lt-q-dot lt-q-${w.status}`} aria-label={w.status} />
        <span className="lt-q-name">{w.name}</span>
        {w.status === 'gone' && <span className="lt-badge">gone</span>}
        <span className="lt-spacer" />
        <span className="lt-dim lt-q-heartbeat" title={`last heartbeat ${w.last_heartbeat}`}>
          ♥&nbsp;{relativeTime(w.last_heartbeat)}
        </span>
      </div>
      <div className="lt-task-meta">
        <span>pulls {w.queues.map(q => queueNames.get(q) ?? q.slice(0, 8)).join(', ') || '—'}</span>
      </div>
      <div className="lt-q-current">
        {task ? (
          <>
            <StatusIcon status={task.status} />
            <button className="lt-link lt-q-task" title={task.id} onClick={() => actions.openTask(task.id)}>
              {task.name}
            </button>
            <span className="lt-spacer" />
            <button
              className="lt-button lt-q-abort"
              title="Ask the task to stop (the agent ends its process)"
              onClick={() => actions.abortTask(task.id)}
            >
              Abort
            </button>
          </>
        ) : (
          <span className="lt-dim">{w.status === 'gone' ? 'not running' : 'idle, waiting for a task'}</span>
        )}
      </div>
      <div className="lt-q-usage">
        {usage.length ? (
          usage.map(part => (
            <span key={part} className="lt-q-gauge">
              {part}
            </span>
          ))
        ) : (
          <span className="lt-dim">no usage reported yet</span>
        )}
      </div>
    </div>
  );
}

export function QueuesView(props: { model: QueuesModel; actions: IQueuesActions }): JSX.Element {
  const { model, actions } = props;
  useSignal(model.changed);
  const queueNames = new Map(model.queues.map(q => [q.id, q.name]));
  let body: JSX.Element;
  if (model.error) {
    body = (
      <ErrorBox
        title="labtrack cannot load the queues"
        message={model.error}
        onRetry={() => void model.load()}
      />
    );
  } else if (model.loading) {
    body = <div className="lt-empty">Loading…</div>;
  } else {
    body = (
      <div className="lt-q-body">
        {model.actionError && (
          <div className="lt-error-message" role="alert">
            {model.actionError}
          </div>
        )}
        <div className="lt-q-section-title">Queues</div>
        {model.queues.length === 0 && <div className="lt-empty">No queues.</div>}
        {model.queues.map(q => (
          <QueueCard key={q.id} queue={q} model={model} actions={actions} />
        ))}
        <div className="lt-q-section-title">
          Workers
          <span className="lt-spacer" />
          <label className="lt-toggle lt-dim">
            <input
              type="checkbox"
              className="lt-q-show-gone"
              checked={model.showGone}
              onChange={event => model.setShowGone(event.target.checked)}
            />{' '}
            show gone
          </label>
        </div>
        {model.workers.length === 0 && (
          <div className="lt-empty">
            No agent is running. Start one on a machine that can reach this server with{' '}
            <code>labtrack agent --queue default</code>.
          </div>
        )}
        {model.workers.map(w => (
          <WorkerCard key={w.id} worker={w} queueNames={queueNames} actions={actions} />
        ))}
      </div>
    );
  }
  return (
    <div className="lt-panel lt-queues">
      <PanelHeader
        title="Queues"
        stale={model.stale}
        refreshTitle="Reload the queues and workers"
        onRefresh={() => void model.load()}
      />
      {body}
    </div>
  );
}

export class QueuesSidebar extends SidePanel {
  constructor(
    readonly model: QueuesModel,
    private readonly actions: IQueuesActions
  ) {
    super();
    this.id = 'labtrack-queues';
    this.addClass('lt-panel-widget');
    this.title.caption = 'labtrack queues and workers';
  }

  render(): JSX.Element {
    return <QueuesView model={this.model} actions={this.actions} />;
  }
}
