/**
 * Plotly traces and layout for scalar charts, shared by the task view and Compare: each series
 * on the chosen x axis, its min/max band (downsampled series), its smoothed line over a faint raw
 * one, and a hover that lists every curve's value at the hovered x.
 */
import { traceType } from '../plotting';
import { IChartPrefs } from './prefs';
import { emaSmooth } from './smoothing';
import { ITimedSeries, IXContext, xValues } from './xaxis';

/** One curve to draw and how it looks. */
export interface ICurve {
  series: ITimedSeries;
  name: string;
  color: string;
  dash?: string;
  legendgroup?: string;
  /** Draw the min/max band of downsampled series (default true). */
  band?: boolean;
  /** Smoothing applies (default true; system gauges are drawn as sampled). */
  smooth?: boolean;
  /** Where on the x axis this run's points go. */
  x: IXContext;
}

/** The traces of one curve, and whether it had to fall back to iterations (no times). */
export function curveTraces(
  curve: ICurve,
  prefs: IChartPrefs
): { traces: Array<Record<string, unknown>>; fellBack: boolean } {
  const { series, name, color } = curve;
  let xs = xValues(series, curve.x);
  const fellBack = xs === null;
  if (xs === null) {
    xs = series.iterations;
  }
  const points = series.iterations.length;
  const smoothed = prefs.smoothing > 0 && curve.smooth !== false;
  const common = {
    type: traceType(points),
    x: xs,
    legendgroup: curve.legendgroup ?? name,
    connectgaps: false,
    // The iteration of each point, for the hover on time axes.
    customdata: series.iterations
  };
  const line: Record<string, unknown> = {
    ...common,
    mode: points < 60 && !smoothed ? 'lines+markers' : 'lines',
    name,
    y: series.values,
    line: { color, width: smoothed ? 1 : 1.6, dash: curve.dash ?? 'solid' },
    marker: { size: 4 },
    meta: 'raw',
    hovertemplate: '%{y:.4g}'
  };
  const traces: Array<Record<string, unknown>> = [];
  const banded = series.min && series.max && series.count && series.count.some(c => c > 1);
  if (banded && curve.band !== false) {
    traces.push({
      type: 'scatter',
      mode: 'lines',
      x: [...xs, ...[...xs].reverse()],
      y: [...series.max!, ...[...series.min!].reverse()],
      fill: 'toself',
      fillcolor: color,
      opacity: smoothed ? 0.1 : 0.18,
      line: { width: 0 },
      hoverinfo: 'skip',
      showlegend: false,
      legendgroup: curve.legendgroup ?? name,
      name: `${name} min/max`,
      meta: 'band'
    });
  }
  if (!smoothed) {
    traces.push(line);
    return { traces, fellBack };
  }
  // The raw curve stays faintly visible behind the smoothed one (as TensorBoard draws it); the
  // hover reports the smoothed value with the raw one beside it.
  traces.push({
    ...line,
    name: `${name} (raw)`,
    opacity: 0.3,
    showlegend: false,
    hoverinfo: 'skip',
    hovertemplate: undefined // a template would bring it back into the hover
  });
  traces.push({
    ...common,
    mode: 'lines',
    name,
    y: emaSmooth(series.values, prefs.smoothing),
    customdata: series.values,
    line: { color, width: 1.8, dash: curve.dash ?? 'solid' },
    meta: 'smoothed',
    hovertemplate: '%{y:.4g} <span style="opacity:0.7">(raw %{customdata:.4g})</span>'
  });
  return { traces, fellBack };
}

/** The y axis fragment for the preferences (and a unit, for system charts). */
export function yAxisLayout(prefs: IChartPrefs, unit = ''): Record<string, unknown> {
  return {
    type: prefs.logY ? 'log' : 'linear',
    ...(unit ? { title: { text: unit }, ticksuffix: unit === '%' ? '%' : '' } : {})
  };
}
