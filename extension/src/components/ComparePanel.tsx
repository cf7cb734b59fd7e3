/**
 * Compare 2..N experiments: each metric's curves overlaid (one color per run), the
 * hyperparameters that differ (or all), the last/min/max metrics table, and parallel
 * coordinates of hyperparameters against a chosen metric.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { getScalarsForTasks, getTasksByIds } from '../api';
import { LabtrackError } from '../request';
import {
  differingKeys,
  differingParamsText,
  flatParams,
  metricStat,
  num,
  runColor,
  runLabel,
  splitMetricKey
} from '../format';
import { themedLayout } from '../plotting';
import { ILabtrackSettings, IScalarSeries, ITask } from '../tokens';
import { ChartControls } from '../charts/ChartControls';
import { IChartPrefs, useChartPrefs } from '../charts/prefs';
import { isSystemMetric, systemCharts, userMetricKeys } from '../charts/system';
import { curveTraces, yAxisLayout } from '../charts/traces';
import { longestSpan, relativeUnit, runStart, xAxisLayout, XAxisMode } from '../charts/xaxis';
import { PlotlyDiv } from './PlotlyDiv';
import { StatusIcon } from './StatusIcon';
import { WhenVisible } from './Lazy';

/** Statuses whose runs still change: the panel polls while one of them is compared. */
const LIVE = new Set(['queued', 'in_progress']);

// Shared with the run chips' hover text (format.ts).
export { differingKeys, flatParams };

/** Every `metric/variant` key the runs reported, system gauges included. */
function allMetricKeys(tasks: ITask[]): string[] {
  const keys = new Set<string>();
  for (const t of tasks) {
    for (const [metric, variants] of Object.entries(t.last_metrics ?? {})) {
      for (const variant of Object.keys(variants)) {
        keys.add(`${metric}/${variant}`);
      }
    }
  }
  return [...keys].sort();
}

/** The runs' own metrics (`metric/variant`), without the system gauges. */
function metricKeys(tasks: ITask[]): string[] {
  return userMetricKeys(allMetricKeys(tasks));
}

/** What a task has logged of `metric` (it changes whenever the series gains points). */
function metricStamp(task: ITask, metric: string): string {
  const variants = task.last_metrics?.[metric] ?? {};
  return Object.keys(variants)
    .sort()
    .map(v => `${v}:${variants[v].count}:${variants[v].last_iteration}`)
    .join('|');
}

function OverlayChart(props: {
  metric: string;
  tasks: ITask[];
  buckets: number;
  prefs: IChartPrefs;
  onDrawn: () => void;
}): JSX.Element {
  const { metric, tasks, buckets, prefs, onDrawn } = props;
  const [series, setSeries] = React.useState<IScalarSeries[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const tasksRef = React.useRef(tasks);
  tasksRef.current = tasks;
  // Per run: the stamp its drawn series was read at, and the newest request applied for it
  // (a slow response never overwrites a newer one).
  const readAt = React.useRef(new Map<string, string>());
  const applied = React.useRef(new Map<string, number>());
  const requests = React.useRef(0);
  const idsKey = tasks.map(t => t.id).join(',');
  const stampKey = tasks.map(t => metricStamp(t, metric)).join(',');

  const read = React.useCallback(
    (runs: ITask[]) => {
      const seq = ++requests.current;
      for (const t of runs) {
        readAt.current.set(t.id, metricStamp(t, metric));
      }
      const ids = runs.map(t => t.id);
      getScalarsForTasks(ids, metric, buckets)
        .then(fresh => {
          const mine = ids.filter(id => (applied.current.get(id) ?? 0) < seq);
          for (const id of mine) {
            applied.current.set(id, seq);
          }
          const take = new Set(mine);
          setSeries(prev =>
            (prev ?? [])
              .filter(s => !take.has(s.task_id ?? ''))
              .concat(fresh.filter(s => take.has(s.task_id ?? '')))
          );
          setError(null);
        })
        .catch(reason => setError(String(reason.message ?? reason)));
    },
    [metric, buckets]
  );
  // Every run's series when the runs, the metric or the resolution change.
  React.useEffect(() => {
    applied.current.clear();
    read(tasksRef.current);
  }, [idsKey, read]);
  // Live: re-read only the runs whose series of this metric grew since they were read.
  React.useEffect(() => {
    const stale = tasksRef.current.filter(
      t => readAt.current.has(t.id) && readAt.current.get(t.id) !== metricStamp(t, metric)
    );
    if (stale.length) {
      read(stale);
    }
  }, [stampKey, read]);

  const namesKey = tasks.map(t => `${t.id}:${t.name}`).join('|');
  const system = isSystemMetric(metric);
  const mode: XAxisMode = system && prefs.xAxis === 'iteration' ? 'relative' : prefs.xAxis;
  const panels = React.useMemo(
    () => (series ? overlayPanels(metric, tasksRef.current, series, prefs, mode) : []),
    [series, namesKey, metric, prefs.smoothing, prefs.logY, mode]
  );
  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!series) {
    return <div className="lt-chart lt-dim">loading {metric}…</div>;
  }
  return (
    <>
      {panels.map((panel, i) => (
        <div
          key={panel.id}
          className="lt-chart lt-compare-chart"
          data-metric={panel.id}
          data-traces={panel.curves}
          data-x-axis={panel.fellBack ? 'iteration' : mode}
          data-log-y={String(prefs.logY)}
          data-smoothing={String(prefs.smoothing)}
        >
          <PlotlyDiv
            data={panel.data}
            layout={panel.layout}
            onDrawn={i === 0 ? onDrawn : undefined}
          />
        </div>
      ))}
    </>
  );
}

/** One overlaid chart: its traces, layout and how many runs' curves it holds. */
interface IOverlayPanel {
  id: string;
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
  curves: number;
  fellBack: boolean;
}

/**
 * The charts of one metric over several runs: one chart with every run's curves (a color per
 * run, a dash per variant) for a training metric; for the resource monitor, one chart per gauge
 * against time.
 */
function overlayPanels(
  metric: string,
  runs: ITask[],
  series: IScalarSeries[],
  prefs: IChartPrefs,
  mode: XAxisMode
): IOverlayPanel[] {
  const index = new Map(runs.map((t, i) => [t.id, i]));
  const system = isSystemMetric(metric);
  // Run order, then variant: a re-read run keeps its place in the legend.
  const ordered = [...series].sort(
    (a, b) =>
      (index.get(a.task_id ?? '') ?? 0) - (index.get(b.task_id ?? '') ?? 0) ||
      (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0)
  );
  const starts = new Map(
    runs.map(t => [t.id, runStart(t, ordered.filter(s => s.task_id === t.id))])
  );
  const unit = relativeUnit(
    longestSpan(
      runs.map(t => ({
        series: ordered.filter(s => s.task_id === t.id),
        start: starts.get(t.id) ?? null
      })),
      system
    )
  );
  const groups = system
    ? systemCharts(new Set(ordered.map(s => s.variant))).map(chart => ({
        id: chart.id,
        title: chart.title,
        unit: chart.unit,
        variants: chart.variants,
        labels: chart.labels
      }))
    : [
        {
          id: metric,
          title: metric,
          unit: '',
          variants: [...new Set(ordered.map(s => s.variant))].sort(),
          labels: {} as Record<string, string>
        }
      ];
  const dashes = ['solid', 'dot', 'dash', 'dashdot', 'longdash'];
  return groups.map(group => {
    let fellBack = false;
    const mine = ordered.filter(s => group.variants.includes(s.variant));
    const data = mine.flatMap(s => {
      const i = index.get(s.task_id ?? '') ?? 0;
      const task = runs[i];
      const label = group.labels[s.variant] ?? s.variant;
      const name = group.variants.length > 1 ? `${runLabel(task)} · ${label}` : runLabel(task);
      const drawn = curveTraces(
        {
          series: s,
          name,
          color: runColor(i),
          dash: dashes[group.variants.indexOf(s.variant) % dashes.length],
          legendgroup: task.id,
          // No min/max bands over many runs: they would hide each other.
          band: false,
          smooth: !system,
          x: { mode, start: starts.get(task.id) ?? null, isSystem: system, unit }
        },
        prefs
      );
      fellBack = fellBack || drawn.fellBack;
      return drawn.traces;
    });
    const layout = themedLayout({
      title: { text: group.title, font: { size: 13 } },
      height: 320,
      hovermode: 'x unified',
      uirevision: `${group.id}|${mode}|${prefs.logY}`,
      showlegend: true,
      legend: { orientation: 'v', x: 1.02, y: 1, font: { size: 10 } },
      margin: { l: 50, r: 10, t: 30, b: 35 },
      xaxis: {
        ...(themedLayout().xaxis as object),
        ...xAxisLayout(fellBack ? 'iteration' : mode, unit)
      },
      yaxis: { ...(themedLayout().yaxis as object), ...yAxisLayout(prefs, group.unit) }
    });
    return { id: group.id, data, layout, curves: mine.length, fellBack };
  });
}

function ParamTable(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const [showAll, setShowAll] = React.useState(false);
  const params = React.useMemo(() => tasks.map(flatParams), [tasks]);
  const differ = React.useMemo(() => differingKeys(params), [params]);
  const keys = [...new Set(params.flatMap(p => Object.keys(p)))]
    .filter(k => showAll || differ.has(k))
    .sort();
  return (
    <div className="lt-section">
      <div className="lt-section-head">
        <h3>Hyperparameters</h3>
        <label className="lt-toggle">
          <input type="checkbox" checked={showAll} onChange={e => setShowAll(e.target.checked)} />{' '}
          show all ({differ.size} of {new Set(params.flatMap(p => Object.keys(p))).size} differ)
        </label>
      </div>
      {keys.length === 0 ? (
        <div className="lt-empty">
          {showAll ? 'No hyperparameters.' : 'All hyperparameters are equal.'}
        </div>
      ) : (
        <div className="lt-table-scroll">
          <table className="lt-table lt-param-table">
            <thead>
              <tr>
                <th>parameter</th>
                {runHeaderCells(tasks)}
              </tr>
            </thead>
            <tbody>
              {keys.map(key => (
                <tr key={key} data-param={key} className={differ.has(key) ? 'lt-differs' : ''}>
                  <th>{key}</th>
                  {params.map((p, i) => (
                    <td key={i}>{p[key] ?? '—'}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** One column header per run, underlined in the run's chart color. */
function runHeaderCells(tasks: ITask[]): JSX.Element[] {
  return tasks.map((t, i) => (
    <th key={t.id} style={{ borderBottom: `3px solid ${runColor(i)}` }}>
      {runLabel(t)}
    </th>
  ));
}

function MetricsTable(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const keys = metricKeys(tasks);
  return (
    <div className="lt-section">
      <h3>Metrics (last / min / max)</h3>
      <div className="lt-table-scroll">
        <table className="lt-table lt-metrics-table">
          <thead>
            <tr>
              <th>metric</th>
              <th />
              {runHeaderCells(tasks)}
            </tr>
          </thead>
          <tbody>
            {keys.flatMap(key =>
              (['last', 'min', 'max'] as const).map(stat => (
                <tr key={`${key}-${stat}`} className={stat === 'last' ? 'lt-first-stat' : ''}>
                  <th>{stat === 'last' ? key : ''}</th>
                  <td className="lt-dim">{stat}</td>
                  {tasks.map(t => (
                    <td key={t.id}>{num(metricStat(t, key, stat))}</td>
                  ))}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ParallelCoordinates(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const keys = metricKeys(tasks);
  const [metricKey, setMetricKey] = React.useState(keys[0] ?? '');
  const params = tasks.map(flatParams);
  const differ = [...differingKeys(params)].sort().slice(0, 15);
  const data = React.useMemo(() => {
    const dims: Record<string, unknown>[] = differ.map(key => {
      const raw = params.map(p => p[key]);
      const numeric = raw.every(v => v !== undefined && v !== '' && !isNaN(Number(v)));
      if (numeric) {
        return { label: key, values: raw.map(Number) };
      }
      // Categorical: map each distinct value to a tick.
      const cats = [...new Set(raw.map(v => v ?? '—'))].sort();
      return {
        label: key,
        values: raw.map(v => cats.indexOf(v ?? '—')),
        tickvals: cats.map((_, i) => i),
        ticktext: cats.map(c => (c.length > 12 ? c.slice(0, 11) + '…' : c))
      };
    });
    const values = tasks.map(t => metricStat(t, metricKey) ?? NaN);
    dims.push({ label: metricKey, values });
    return [
      {
        type: 'parcoords',
        line: { color: values, colorscale: 'Viridis', showscale: true },
        dimensions: dims
      }
    ];
  }, [tasks, metricKey]);
  const layout = React.useMemo(
    () => themedLayout({ height: 340, margin: { l: 70, r: 70, t: 50, b: 30 } }),
    []
  );
  if (!keys.length || !differ.length) {
    return (
      <div className="lt-section">
        <h3>Parallel coordinates</h3>
        <div className="lt-empty">Needs hyperparameters that differ and at least one metric.</div>
      </div>
    );
  }
  return (
    <div className="lt-section lt-parcoords">
      <div className="lt-section-head">
        <h3>Parallel coordinates</h3>
        <select
          className="lt-select"
          value={metricKey}
          onChange={e => setMetricKey(e.target.value)}
        >
          {keys.map(k => (
            <option key={k} value={k}>
              {k} (last)
            </option>
          ))}
        </select>
      </div>
      <WhenVisible minHeight={340}>{() => <PlotlyDiv data={data} layout={layout} />}</WhenVisible>
    </div>
  );
}

/** The compare panel's body. */
export function CompareBody(props: {
  ids: string[];
  settings: () => ILabtrackSettings;
  isVisible: () => boolean;
}): JSX.Element {
  const { ids, settings, isVisible } = props;
  const [tasks, setTasks] = React.useState<ITask[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [pollError, setPollError] = React.useState<string | null>(null);
  const drawn = React.useRef(0);
  const rootRef = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    getTasksByIds(ids)
      .then(page => {
        // Keep the order of the selection so colors stay stable.
        const byId = new Map(page.items.map(t => [t.id, t]));
        setTasks(ids.map(id => byId.get(id)).filter((t): t is ITask => !!t));
      })
      .catch(reason => setError(reason instanceof LabtrackError ? reason.message : String(reason)));
  }, [ids.join(',')]);

  // Live: while a compared run is queued or running and the panel is shown, re-read those
  // runs at the settings interval; only runs whose `last_update` moved are replaced, so the
  // charts re-read just their series. The timer ends with the last live run or the panel.
  const liveIds = (tasks ?? []).filter(t => LIVE.has(t.status)).map(t => t.id);
  const liveKey = liveIds.join(',');
  React.useEffect(() => {
    if (!liveKey) {
      return;
    }
    const wanted = liveKey.split(',');
    let busy = false;
    const timer = window.setInterval(
      () => {
        if (busy || !isVisible() || document.hidden) {
          return;
        }
        busy = true;
        getTasksByIds(wanted)
          .then(page => {
            const fresh = new Map(page.items.map(t => [t.id, t]));
            setTasks(prev => {
              if (!prev) {
                return prev;
              }
              let changed = false;
              const next = prev.map(t => {
                const f = fresh.get(t.id);
                if (f && (f.last_update !== t.last_update || f.status !== t.status)) {
                  changed = true;
                  return f;
                }
                return t;
              });
              return changed ? next : prev;
            });
            setPollError(null);
          })
          .catch(reason =>
            setPollError(reason instanceof LabtrackError ? reason.message : String(reason))
          )
          .finally(() => {
            busy = false;
          });
      },
      Math.max(1, settings().refreshInterval) * 1000
    );
    return () => window.clearInterval(timer);
  }, [liveKey]);

  const [prefs, setPrefs] = useChartPrefs();
  // Every metric title: the runs' own first, then the system gauges (drawn in their section).
  const metrics = React.useMemo(() => {
    const titles = [...new Set(allMetricKeys(tasks ?? []).map(k => splitMetricKey(k)[0]))];
    return [...titles.filter(m => !isSystemMetric(m)), ...titles.filter(isSystemMetric)];
  }, [tasks]);
  const userMetrics = metrics.filter(m => !isSystemMetric(m));
  const systemMetrics = metrics.filter(isSystemMetric);
  const [chartsDone, setChartsDone] = React.useState(false);
  const onDrawn = React.useCallback(() => {
    drawn.current += 1;
    // The benchmark and browser tests wait for this attribute.
    rootRef.current?.setAttribute('data-charts-drawn', String(drawn.current));
    if (drawn.current >= metricCount.current) {
      setChartsDone(true);
    }
  }, []);
  const metricCount = React.useRef(0);
  metricCount.current = metrics.length;
  if (error) {
    return (
      <div className="lt-error" role="alert">
        <div className="lt-error-title">Cannot compare</div>
        <div className="lt-error-message">{error}</div>
      </div>
    );
  }
  if (!tasks) {
    return <div className="lt-empty">Loading {ids.length} experiments…</div>;
  }
  return (
    <div
      className="lt-compare"
      ref={rootRef}
      data-metric-count={metrics.length}
      data-live-runs={liveIds.length}
    >
      {pollError && <div className="lt-error-message">{pollError}</div>}
      <div className="lt-compare-runs">
        {liveIds.length > 0 && <span className="lt-live">live</span>}
        {tasks.map((t, i) => (
          <span
            key={t.id}
            className="lt-run-chip"
            data-task-id={t.id}
            data-status={t.status}
            style={{ borderColor: runColor(i) }}
            title={differingParamsText(t, tasks)}
          >
            <span className="lt-swatch" style={{ background: runColor(i) }} />
            <StatusIcon status={t.status} /> {runLabel(t)}
          </span>
        ))}
      </div>
      <div className="lt-section">
        <div className="lt-section-head">
          <h3>Scalars</h3>
          {metrics.length > 0 && <ChartControls prefs={prefs} onChange={setPrefs} />}
        </div>
        {userMetrics.length === 0 && (
          <div className="lt-empty">These experiments reported no scalars.</div>
        )}
        <div className="lt-charts">
          {userMetrics.map(m => (
            <OverlayChart
              key={m}
              metric={m}
              tasks={tasks}
              buckets={settings().chartBuckets}
              prefs={prefs}
              onDrawn={onDrawn}
            />
          ))}
        </div>
      </div>
      {systemMetrics.length > 0 && (
        <div className="lt-section lt-system">
          <h3>System</h3>
          <div className="lt-charts">
            {systemMetrics.map(m => (
              <OverlayChart
                key={m}
                metric={m}
                tasks={tasks}
                buckets={settings().chartBuckets}
                prefs={prefs}
                onDrawn={onDrawn}
              />
            ))}
          </div>
        </div>
      )}
      <ParamTable tasks={tasks} />
      <MetricsTable tasks={tasks} />
      {/* Parallel coordinates draw with WebGL (slow without a GPU): after the curves. */}
      {chartsDone || metrics.length === 0 ? (
        <ParallelCoordinates tasks={tasks} />
      ) : (
        <div className="lt-section lt-dim">Parallel coordinates follow the charts…</div>
      )}
    </div>
  );
}

let compareCount = 0;

/** Create the main-area compare widget. */
export function createComparePanel(
  ids: string[],
  settings: () => ILabtrackSettings
): MainAreaWidget {
  let widget: MainAreaWidget | null = null;
  const content = ReactWidget.create(
    <CompareBody
      ids={ids}
      settings={settings}
      isVisible={() => widget !== null && !widget.isDisposed && widget.isVisible}
    />
  );
  content.addClass('lt-compare-content');
  widget = new MainAreaWidget({ content });
  widget.id = `labtrack-compare-${++compareCount}`;
  widget.title.label = `Compare (${ids.length})`;
  widget.title.closable = true;
  widget.addClass('lt-main');
  return widget;
}
