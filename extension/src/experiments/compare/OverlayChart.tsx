/**
 * One metric's curves over several runs (a color per run, a dash per variant), re-reading only
 * the runs whose series grew while the panel is live.
 */
import * as React from 'react';

import { getScalarsForTasks } from '../../api';
import { runColor, runLabel } from '../../format';
import { themedLayout } from '../../plotting';
import { IScalarSeries, ITask } from '../../tokens';
import { IChartPrefs } from '../../charts/prefs';
import { isSystemMetric, systemCharts } from '../../charts/system';
import { curveTraces, yAxisLayout } from '../../charts/traces';
import { longestSpan, relativeUnit, runStart, xAxisLayout, XAxisMode } from '../../charts/xaxis';
import { PlotlyDiv } from '../../components/PlotlyDiv';

/** What one chart of a metric draws: its variants, their legend labels and the y unit. */
interface IChartGroup {
  id: string;
  title: string;
  unit: string;
  variants: string[];
  labels: Record<string, string>;
}

/** What a task has logged of `metric` (it changes whenever the series gains points). */
function metricStamp(task: ITask, metric: string): string {
  const variants = task.last_metrics?.[metric] ?? {};
  return Object.keys(variants)
    .sort()
    .map(v => `${v}:${variants[v].count}:${variants[v].last_iteration}`)
    .join('|');
}

export function OverlayChart(props: {
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
  const groups: IChartGroup[] = system
    ? systemCharts(new Set(ordered.map(s => s.variant)))
    : [
        {
          id: metric,
          title: metric,
          unit: '',
          variants: [...new Set(ordered.map(s => s.variant))].sort(),
          labels: {}
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

/** A section of overlay charts, one per metric (the runs' own metrics, or the System gauges). */
export function ChartSection(props: {
  metrics: string[];
  tasks: ITask[];
  buckets: number;
  prefs: IChartPrefs;
  onDrawn: () => void;
}): JSX.Element {
  const { metrics, tasks, buckets, prefs, onDrawn } = props;
  return (
    <div className="lt-charts">
      {metrics.map(m => (
        <OverlayChart
          key={m}
          metric={m}
          tasks={tasks}
          buckets={buckets}
          prefs={prefs}
          onDrawn={onDrawn}
        />
      ))}
    </div>
  );
}
