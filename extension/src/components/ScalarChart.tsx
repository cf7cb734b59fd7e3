/**
 * One metric's chart in the task view: every variant, downsampled by the server (last value
 * line plus a min/max band so spikes stay visible); zooming in fetches the visible range at
 * full resolution.
 */
import * as React from 'react';

import { getScalarRange } from '../api';
import { themedLayout, traceType } from '../plotting';
import { IScalarSeries } from '../tokens';
import { runColor } from '../format';
import { PlotlyDiv } from './PlotlyDiv';

/** Raw points fetched for a zoomed range before falling back to buckets. */
const RAW_LIMIT = 10000;

export function seriesTraces(series: IScalarSeries, name: string, color: string): unknown[] {
  const line = {
    type: traceType(series.iterations.length),
    mode: series.iterations.length < 60 ? 'lines+markers' : 'lines',
    name,
    x: series.iterations,
    y: series.values,
    line: { color, width: 1.6 },
    marker: { size: 4 },
    connectgaps: false
  };
  if (!series.min || !series.max || !series.count || series.count.every(c => c <= 1)) {
    return [line];
  }
  const band = {
    type: 'scatter',
    mode: 'lines',
    x: [...series.iterations, ...[...series.iterations].reverse()],
    y: [...series.max, ...[...series.min].reverse()],
    fill: 'toself',
    fillcolor: color,
    opacity: 0.18,
    line: { width: 0 },
    hoverinfo: 'skip',
    showlegend: false,
    name: `${name} min/max`
  };
  return [band, line];
}

export function ScalarChart(props: {
  taskId: string;
  metric: string;
  series: IScalarSeries[];
  buckets: number;
}): JSX.Element {
  const { taskId, metric, series, buckets } = props;
  const [zoomed, setZoomed] = React.useState<IScalarSeries[] | null>(null);
  const [range, setRange] = React.useState<[number, number] | null>(null);
  const [note, setNote] = React.useState('');

  const onRelayout = React.useCallback(
    (event: Record<string, unknown>) => {
      // Only a real autoscale (double click) resets; resizes also emit relayout (autosize).
      if (event['xaxis.autorange']) {
        setZoomed(null);
        setRange(null);
        setNote('');
        return;
      }
      const start = event['xaxis.range[0]'] as number | undefined;
      const end = event['xaxis.range[1]'] as number | undefined;
      if (start === undefined || end === undefined) {
        return;
      }
      setRange([start, end]);
      setNote('loading the visible range…');
      Promise.all(
        series.map(async s => {
          const raw = await getScalarRange(taskId, metric, s.variant, start, end, {
            limit: RAW_LIMIT
          });
          if (!raw.next_cursor) {
            return raw;
          }
          // More points than we want in the browser: ask for buckets over just this range.
          return getScalarRange(taskId, metric, s.variant, start, end, { buckets: buckets * 2 });
        })
      )
        .then(result => {
          setZoomed(result);
          const full = result.every(r => !r.buckets);
          setNote(full ? 'full resolution' : 'downsampled (zoom further for raw points)');
        })
        .catch(reason => setNote(`Could not load the range: ${String(reason)}`));
    },
    [taskId, metric, series, buckets]
  );

  const shown = zoomed ?? series;
  const data = React.useMemo(
    () => shown.flatMap((s, i) => seriesTraces(s, s.variant, runColor(i))),
    [shown]
  );
  const layout = React.useMemo(
    () =>
      themedLayout({
        // Title on the left and legend on the right of the same top row.
        title: { text: metric, font: { size: 13 }, x: 0.01, xanchor: 'left' },
        legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.02, yanchor: 'bottom' },
        height: 280,
        uirevision: metric,
        hovermode: 'x',
        xaxis: {
          ...(themedLayout().xaxis as object),
          title: { text: 'iteration' },
          ...(range ? { range, autorange: false } : {})
        },
        showlegend: series.length > 1
      }),
    [metric, range, series.length]
  );
  return (
    <div className="lt-chart" data-metric={metric}>
      <PlotlyDiv data={data} layout={layout} onRelayout={onRelayout} />
      {note && <div className="lt-chart-note">{note}</div>}
    </div>
  );
}
