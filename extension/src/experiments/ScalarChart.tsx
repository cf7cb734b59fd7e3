/**
 * One chart in the task view: every variant of a metric (or the gauges of one system chart),
 * downsampled by the server (last value line plus a min/max band so spikes stay visible), drawn
 * with the page's chart preferences (smoothing, log y, x axis); zooming in fetches the visible
 * range at full resolution.
 */
import * as React from 'react';

import { getScalarRange } from '../api';
import { themedLayout } from '../plotting';
import { ITask } from '../tokens';
import { runColor } from '../format';
import { IChartPrefs } from '../charts/prefs';
import { curveTraces, yAxisLayout } from '../charts/traces';
import {
  ITimedSeries,
  iterationRangeOf,
  longestSpan,
  relativeUnit,
  runStart,
  xAxisLayout,
  XAxisMode
} from '../charts/xaxis';
import { PlotlyDiv } from '../components/PlotlyDiv';

/** Raw points fetched for a zoomed range before falling back to buckets. */
const RAW_LIMIT = 10000;

export function ScalarChart(props: {
  task: ITask;
  /** The metric title the series belong to (for range reads). */
  metric: string;
  /** The chart's id (`data-metric`): the metric, or a system chart's id. */
  chartId?: string;
  title?: string;
  series: ITimedSeries[];
  buckets: number;
  prefs: IChartPrefs;
  /** System gauges: time on x whatever the preference, a unit on y, labels per variant. */
  system?: { unit: string; labels: Record<string, string> };
}): JSX.Element {
  const { task, metric, series, buckets, prefs, system } = props;
  const chartId = props.chartId ?? metric;
  const title = props.title ?? metric;
  const [zoomed, setZoomed] = React.useState<ITimedSeries[] | null>(null);
  const [range, setRange] = React.useState<[number | string, number | string] | null>(null);
  const [note, setNote] = React.useState('');
  // System gauges have no iterations worth showing: their x is always a time.
  const mode: XAxisMode = system && prefs.xAxis === 'iteration' ? 'relative' : prefs.xAxis;

  // A new axis (mode, scale) or new data from a refresh starts from the whole range again.
  React.useEffect(() => {
    setZoomed(null);
    setRange(null);
    setNote('');
  }, [mode, prefs.logY]);

  const shown = zoomed ?? series;
  const start = React.useMemo(() => runStart(task, series), [task.started, series]);
  const { data, fellBack, unit } = React.useMemo(() => {
    const unit = relativeUnit(longestSpan([{ series, start }], !!system));
    let fellBack = false;
    const data = shown.flatMap((s, i) => {
      const drawn = curveTraces(
        {
          series: s,
          name: system?.labels[s.variant] ?? s.variant,
          color: runColor(i),
          smooth: !system,
          x: { mode, start, isSystem: !!system, unit }
        },
        prefs
      );
      fellBack = fellBack || drawn.fellBack;
      return drawn.traces;
    });
    return { data, fellBack, unit };
  }, [shown, series, start, mode, prefs.smoothing, prefs.logY, system]);

  const onRelayout = React.useCallback(
    (event: Record<string, unknown>) => {
      // Only a real autoscale (double click) resets; resizes also emit relayout (autosize).
      if (event['xaxis.autorange']) {
        setZoomed(null);
        setRange(null);
        setNote('');
        return;
      }
      const from = event['xaxis.range[0]'] as number | string | undefined;
      const to = event['xaxis.range[1]'] as number | string | undefined;
      if (from === undefined || to === undefined) {
        return;
      }
      setRange([from, to]);
      // The range in iterations: the axis value itself, or the points the time range shows.
      let first: number;
      let last: number;
      if (mode === 'iteration') {
        [first, last] = [Math.max(0, Number(from)), Number(to)];
      } else {
        const spans = data
          .filter(t => t.meta === 'raw')
          .map(t =>
            iterationRangeOf(
              t.x as Array<number | string>,
              t.customdata as number[],
              from,
              to,
              mode
            )
          )
          .filter((r): r is [number, number] => r !== null);
        if (!spans.length) {
          return;
        }
        first = Math.min(...spans.map(r => r[0]));
        last = Math.max(...spans.map(r => r[1]));
      }
      setNote('loading the visible range…');
      Promise.all(
        series.map(async s => {
          const raw = await getScalarRange(task.id, metric, s.variant, first, last, {
            limit: RAW_LIMIT
          });
          if (!raw.next_cursor) {
            return raw;
          }
          // More points than we want in the browser: ask for buckets over just this range.
          return getScalarRange(task.id, metric, s.variant, first, last, { buckets: buckets * 2 });
        })
      )
        .then(result => {
          setZoomed(result);
          const full = result.every(r => !r.buckets);
          setNote(full ? 'full resolution' : 'downsampled (zoom further for raw points)');
        })
        .catch(reason => setNote(`Could not load the range: ${String(reason)}`));
    },
    [task.id, metric, series, buckets, mode, data]
  );

  const layout = React.useMemo(
    () =>
      themedLayout({
        // Title on the left and legend on the right of the same top row.
        title: { text: title, font: { size: 13 }, x: 0.01, xanchor: 'left' },
        legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.02, yanchor: 'bottom' },
        height: 280,
        uirevision: `${chartId}|${mode}|${prefs.logY}`,
        hovermode: 'x unified',
        xaxis: {
          ...(themedLayout().xaxis as object),
          ...xAxisLayout(fellBack ? 'iteration' : mode, unit),
          ...(range ? { range, autorange: false } : {})
        },
        yaxis: { ...(themedLayout().yaxis as object), ...yAxisLayout(prefs, system?.unit) },
        showlegend: series.length > 1
      }),
    [title, chartId, range, series.length, mode, unit, fellBack, prefs.logY, system]
  );
  return (
    <div
      className="lt-chart"
      data-metric={chartId}
      data-x-axis={fellBack ? 'iteration' : mode}
      data-log-y={String(prefs.logY)}
      data-smoothing={String(prefs.smoothing)}
    >
      <PlotlyDiv data={data} layout={layout} onRelayout={onRelayout} />
      {fellBack && (
        <div className="lt-chart-note">
          the server sent no point times: drawn against iterations
        </div>
      )}
      {note && <div className="lt-chart-note">{note}</div>}
    </div>
  );
}
