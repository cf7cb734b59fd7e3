/**
 * The task view in the main area: overview, hyperparameters, scalar charts, plots and tables,
 * console, artifacts and code. It refreshes while the task runs and the view is visible.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { getMetrics, getScalarsForTasks, getTask } from '../api';
import { LabtrackError } from '../request';
import { dateTime, duration, num, statusLabel } from '../format';
import { ILabtrackSettings, IMetricInfo, IRuntime, IScalarSeries, IScript, ITask } from '../tokens';
import { ScalarChart } from './ScalarChart';
import { StatusIcon } from './StatusIcon';
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

function Overview(props: { task: ITask; metrics: IMetricInfo[] }): JSX.Element {
  const { task, metrics } = props;
  const rows: Array<[string, React.ReactNode]> = [
    [
      'status',
      <>
        <StatusIcon status={task.status} /> {statusLabel(task.status)}
        {task.status_reason ? ` — ${task.status_reason}` : ''}
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
    ['last iteration', task.last_iteration ?? '—'],
    ['machine', machineText(task.runtime)],
    ['git', gitText(task.script)],
    ['tags', task.tags.join(', ') || '—'],
    ['id', <code>{task.id}</code>]
  ];
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

function Hyperparameters(props: { task: ITask }): JSX.Element {
  const { task } = props;
  const sections = Object.entries(task.hyperparams ?? {});
  const config = Object.entries(task.configuration ?? {});
  if (!sections.length && !config.length) {
    return <div className="lt-empty">No hyperparameters were connected to this experiment.</div>;
  }
  return (
    <div className="lt-hparams">
      {sections.map(([section, values]) => (
        <div key={section}>
          <h3>{section}</h3>
          <table className="lt-table">
            <tbody>
              {Object.entries(values).map(([name, p]) => (
                <tr key={name} data-param={`${section}/${name}`}>
                  <th>{name}</th>
                  <td>{p.value}</td>
                  <td className="lt-dim">{p.type}</td>
                  <td className="lt-dim">{p.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {config.map(([name, entry]) => (
        <div key={name}>
          <h3>Configuration: {name}</h3>
          <pre className="lt-code">{entry.value}</pre>
        </div>
      ))}
    </div>
  );
}

function Scalars(props: {
  task: ITask;
  metrics: IMetricInfo[];
  tick: number;
  buckets: number;
}): JSX.Element {
  const { task, metrics, tick, buckets } = props;
  const names = React.useMemo(() => [...new Set(metrics.map(m => m.metric))].sort(), [metrics]);
  const [series, setSeries] = React.useState<Record<string, IScalarSeries[]>>({});
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let cancelled = false;
    Promise.all(names.map(name => getScalarsForTasks([task.id], name, buckets)))
      .then(all => {
        if (cancelled) {
          return;
        }
        const next: Record<string, IScalarSeries[]> = {};
        names.forEach((name, i) => (next[name] = all[i]));
        setSeries(next);
        setError(null);
      })
      .catch(reason => setError(String(reason.message ?? reason)));
    return () => {
      cancelled = true;
    };
  }, [task.id, names.join('\n'), tick]);
  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!names.length) {
    return <div className="lt-empty">No scalars reported yet.</div>;
  }
  return (
    <div className="lt-charts">
      {names.map(name =>
        series[name] ? (
          <ScalarChart
            key={name}
            taskId={task.id}
            metric={name}
            series={series[name]}
            buckets={buckets}
          />
        ) : (
          <div key={name} className="lt-chart lt-dim">
            loading {name}…
          </div>
        )
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
}): JSX.Element {
  const { taskId, settings, isVisible, onTitle } = props;
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
    } catch (reason) {
      setError(reason instanceof LabtrackError ? reason.message : String(reason));
    }
  }, [taskId]);

  React.useEffect(() => {
    void load();
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
        <span className="lt-task-title">{task.name}</span>
        <span className="lt-dim">{task.project_name}</span>
        {live && <span className="lt-live">live</span>}
        <span className="lt-spacer" />
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
        {tab === 'Overview' && <Overview task={task} metrics={metrics} />}
        {tab === 'Hyperparameters' && <Hyperparameters task={task} />}
        {tab === 'Scalars' && (
          <Scalars task={task} metrics={metrics} tick={tick} buckets={settings().chartBuckets} />
        )}
        {tab === 'Plots' && <PlotsTab task={task} tick={tick} />}
        {tab === 'Console' && <ConsoleTab task={task} tick={tick} />}
        {tab === 'Artifacts' && <ArtifactsTab task={task} tick={tick} />}
        {tab === 'Code' && <CodeTab task={task} />}
      </div>
    </div>
  );
}

/** Create the main-area widget for one task. */
export function createTaskView(taskId: string, settings: () => ILabtrackSettings): MainAreaWidget {
  let widget: MainAreaWidget | null = null;
  const content = ReactWidget.create(
    <TaskViewBody
      taskId={taskId}
      settings={settings}
      isVisible={() => widget !== null && widget.isVisible}
      onTitle={task => {
        if (widget) {
          widget.title.label = task.name;
          widget.title.caption = `${task.project_name} / ${task.name} (${statusLabel(task.status)})`;
        }
      }}
    />
  );
  content.addClass('lt-task-content');
  widget = new MainAreaWidget({ content });
  widget.id = `labtrack-task-${taskId}`;
  widget.title.label = 'Experiment';
  widget.title.closable = true;
  widget.addClass('lt-main');
  return widget;
}
