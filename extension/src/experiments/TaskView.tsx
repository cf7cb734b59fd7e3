/**
 * The task view in the main area: overview, hyperparameters, scalar charts, plots and tables,
 * console, artifacts and code. It refreshes while the task runs and the view is visible.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';

import { getMetrics, getTask } from '../api';
import { LabtrackError } from '../request';
import { dateTime, duration, num, runLabel, runName, shortId, statusLabel } from '../format';
import { ILabtrackSettings, IMetricInfo, IRuntime, IScript, ITask } from '../tokens';
import { isSystemMetric, userLastIteration } from '../charts/system';
import { HyperparamsTab } from './HyperparamsTab';
import { ScalarsTab } from './ScalarsTab';
import { StatusIcon } from '../components/StatusIcon';
import { ArtifactsTab, CodeTab, ConsoleTab, PlotsTab } from './TaskTabs';

const TABS = [
  'Overview',
  'Hyperparameters',
  'Scalars',
  'Plots',
  'Console',
  'Artifacts',
  'Code'
] as const;
type Tab = (typeof TABS)[number];

const LIVE = new Set(['created', 'queued', 'in_progress']);

/** What a task view asks of the plugin (run actions, other views). */
export interface ITaskViewHooks {
  /** Emits the ids of runs an action changed; the view re-reads its task when it is one. */
  changed: ISignal<unknown, string[]>;
  /** The view read its task (the commands use it for runs the sidebar has not loaded). */
  loaded(task: ITask): void;
  /** The header's Actions button: the run actions as a menu at a point. */
  openMenu(taskId: string, x: number, y: number): void;
  /** The title's double-click. */
  rename(taskId: string): void;
  openTask(taskId: string): void;
}

/** "host · OS · Python 3.11 · 8 CPUs · 32 GB · 1 GPU" from what the SDK recorded. */
function machineText(runtime: IRuntime | undefined): string {
  if (!runtime) {
    return '—';
  }
  const parts = [
    runtime.hostname,
    runtime.os,
    runtime.python && `Python ${runtime.python}`,
    runtime.cpu_count ? `${runtime.cpu_count} CPUs` : '',
    runtime.memory_gb ? `${num(runtime.memory_gb)} GB` : '',
    runtime.gpus?.length ? `${runtime.gpus.length} GPU` : ''
  ];
  return parts.filter(Boolean).join(' · ') || '—';
}

/** "repo @ branch commit (uncommitted changes)", or a dash when no repository was recorded. */
function gitText(script: IScript | undefined): string {
  if (!script || !script.repository) {
    return '—';
  }
  const dirty = script.diff ? ' (uncommitted changes)' : '';
  return `${script.repository} @ ${script.branch || '?'} ${script.commit.slice(0, 10)}${dirty}`;
}

function Overview(props: {
  task: ITask;
  metrics: IMetricInfo[];
  openTask: (id: string) => void;
}): JSX.Element {
  const { task, openTask } = props;
  // System gauges (CPU, memory, GPU) are charts in Scalars, not metrics of the run.
  const metrics = props.metrics.filter(m => !isSystemMetric(m.metric));
  const rows: Array<[string, React.ReactNode]> = [
    [
      'status',
      <>
        <StatusIcon status={task.status} /> {statusLabel(task.status)}
        {task.status_reason ? ` — ${task.status_reason}` : ''}
        {task.status_message ? ` · ${task.status_message}` : ''}
      </>
    ],
    ['project', task.project_name],
    ['type', task.type],
    ['user', task.user],
    ['created', dateTime(task.created)],
    ['started', dateTime(task.started)],
    ['completed', dateTime(task.completed)],
    [
      'duration',
      duration(task.started, task.completed ?? (LIVE.has(task.status) ? null : task.last_update))
    ],
    ['last update', dateTime(task.last_update)],
    ['last iteration', userLastIteration(task) ?? '—'],
    ['machine', machineText(task.runtime)],
    ['git', gitText(task.script)],
    ['tags', task.tags.join(', ') || '—'],
    ['id', <code>{task.id}</code>]
  ];
  if (task.parent_id) {
    const parent = task.parent_id;
    rows.push([
      'cloned from',
      <button className="lt-link" title={parent} onClick={() => openTask(parent)}>
        {shortId(parent)}
      </button>
    ]);
  }
  return (
    <div className="lt-overview">
      <table className="lt-kv">
        <tbody>
          {rows.map(([key, value]) => (
            <tr key={key} data-field={key}>
              <th>{key}</th>
              <td>{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {task.comment && <p className="lt-comment">{task.comment}</p>}
      {metrics.length > 0 && (
        <>
          <h3>Last metrics</h3>
          <table className="lt-table lt-last-metrics">
            <thead>
              <tr>
                <th>metric</th>
                <th>variant</th>
                <th>last</th>
                <th>min</th>
                <th>max</th>
                <th>iteration</th>
              </tr>
            </thead>
            <tbody>
              {metrics.map(m => (
                <tr key={`${m.metric}/${m.variant}`}>
                  <td>{m.metric}</td>
                  <td>{m.variant}</td>
                  <td>{num(m.last)}</td>
                  <td>{num(m.min)}</td>
                  <td>{num(m.max)}</td>
                  <td>{m.last_iteration}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

/** The view's body; `isVisible` pauses the live refresh while the tab is hidden. */
export function TaskViewBody(props: {
  taskId: string;
  settings: () => ILabtrackSettings;
  isVisible: () => boolean;
  onTitle: (task: ITask) => void;
  hooks: ITaskViewHooks;
}): JSX.Element {
  const { taskId, settings, isVisible, onTitle, hooks } = props;
  const [task, setTask] = React.useState<ITask | null>(null);
  const [metrics, setMetrics] = React.useState<IMetricInfo[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [tab, setTab] = React.useState<Tab>('Overview');
  const [tick, setTick] = React.useState(0);

  const load = React.useCallback(async () => {
    try {
      const [t, m] = await Promise.all([getTask(taskId), getMetrics(taskId)]);
      setTask(t);
      setMetrics(m);
      setError(null);
      onTitle(t);
      hooks.loaded(t);
    } catch (reason) {
      setError(reason instanceof LabtrackError ? reason.message : String(reason));
    }
  }, [taskId]);

  React.useEffect(() => {
    void load();
  }, [load]);

  // A run action on this run (here, in the sidebar or the palette): show its result now.
  React.useEffect(() => {
    const onChanged = (_: unknown, ids: string[]) => {
      if (ids.includes(taskId)) {
        void load();
      }
    };
    hooks.changed.connect(onChanged);
    return () => {
      hooks.changed.disconnect(onChanged);
    };
  }, [load]);

  const live = task !== null && LIVE.has(task.status);
  React.useEffect(() => {
    if (!live) {
      return;
    }
    const timer = window.setInterval(
      () => {
        if (isVisible() && !document.hidden) {
          void load().then(() => setTick(t => t + 1));
        }
      },
      Math.max(1, settings().refreshInterval) * 1000
    );
    return () => window.clearInterval(timer);
  }, [live, load]);

  if (error && !task) {
    return (
      <div className="lt-error" role="alert">
        <div className="lt-error-title">Cannot load this experiment</div>
        <div className="lt-error-message">{error}</div>
        <button className="lt-button" onClick={() => void load()}>
          Retry
        </button>
      </div>
    );
  }
  if (!task) {
    return <div className="lt-empty">Loading…</div>;
  }
  return (
    <div className="lt-task-view" data-task-id={task.id}>
      <div className="lt-task-header">
        <StatusIcon status={task.status} />
        <span
          className="lt-task-title"
          title="Double-click to rename"
          onDoubleClick={() => hooks.rename(task.id)}
        >
          {runName(task)}
        </span>
        <code className="lt-short-id" title={task.id}>
          {shortId(task.id)}
        </code>
        <span className="lt-dim">{task.project_name}</span>
        {task.archived && <span className="lt-badge lt-badge-archived">archived</span>}
        {task.stop_requested && <span className="lt-badge lt-badge-stopping">stopping…</span>}
        {live && <span className="lt-live">live</span>}
        <span className="lt-spacer" />
        <button
          className="lt-button lt-task-actions"
          title="Rename, tag, move, clone, abort, publish, archive or delete this run"
          onClick={event => {
            const box = event.currentTarget.getBoundingClientRect();
            hooks.openMenu(task.id, box.left, box.bottom);
          }}
        >
          Actions ▾
        </button>
        <button className="lt-button" onClick={() => void load().then(() => setTick(t => t + 1))}>
          Refresh
        </button>
      </div>
      {error && <div className="lt-error-message">{error}</div>}
      <div className="lt-tabs" role="tablist">
        {TABS.map(name => (
          <button
            key={name}
            role="tab"
            aria-selected={tab === name}
            className={`lt-tab ${tab === name ? 'lt-tab-on' : ''}`}
            data-tab={name}
            onClick={() => setTab(name)}
          >
            {name}
          </button>
        ))}
      </div>
      <div className="lt-tab-body">
        {tab === 'Overview' && (
          <Overview task={task} metrics={metrics} openTask={hooks.openTask} />
        )}
        {tab === 'Hyperparameters' && (
          <HyperparamsTab task={task} onSaved={() => void load()} />
        )}
        {tab === 'Scalars' && (
          <ScalarsTab task={task} metrics={metrics} tick={tick} buckets={settings().chartBuckets} />
        )}
        {tab === 'Plots' && <PlotsTab task={task} tick={tick} />}
        {tab === 'Console' && <ConsoleTab task={task} tick={tick} />}
        {tab === 'Artifacts' && <ArtifactsTab task={task} tick={tick} />}
        {tab === 'Code' && <CodeTab task={task} />}
      </div>
    </div>
  );
}

/** The main-area widget of one task (the layout restorer reopens it by `taskId`). */
export class TaskViewWidget extends MainAreaWidget {
  constructor(
    readonly taskId: string,
    settings: () => ILabtrackSettings,
    hooks: ITaskViewHooks
  ) {
    // The body reads `widget` only after construction (visibility, title).
    let widget: TaskViewWidget | null = null;
    const content = ReactWidget.create(
      <TaskViewBody
        taskId={taskId}
        settings={settings}
        isVisible={() => widget !== null && !widget.isDisposed && widget.isVisible}
        onTitle={task => {
          if (widget) {
            // Tabs of same-named runs differ by number and short id.
            widget.title.label = runLabel(task);
            widget.title.caption = `${task.project_name} / ${runName(task)} (${statusLabel(task.status)})\n${task.id}`;
          }
        }}
        hooks={hooks}
      />
    );
    content.addClass('lt-task-content');
    super({ content });
    widget = this;
    this.id = `labtrack-task-${taskId}`;
    this.title.label = `Experiment ${shortId(taskId)}`;
    this.title.closable = true;
    this.addClass('lt-main');
  }
}

/** Create the main-area widget for one task. */
export function createTaskView(
  taskId: string,
  settings: () => ILabtrackSettings,
  hooks: ITaskViewHooks
): TaskViewWidget {
  return new TaskViewWidget(taskId, settings, hooks);
}
