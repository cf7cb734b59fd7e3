/**
 * The x axis of scalar charts: iteration, wall time or time since the run started.
 *
 * Training series carry a time per point (the server returns `times`, per bucket too); system
 * series (the resource monitor) carry seconds since the monitor started in their iteration
 * field, so their time axis comes from the iteration itself.
 */
import { IScalarSeries, ITask } from '../tokens';

export type XAxisMode = 'iteration' | 'wall' | 'relative';

export const X_AXIS_MODES: Array<{ value: XAxisMode; label: string }> = [
  { value: 'iteration', label: 'iteration' },
  { value: 'relative', label: 'time since start' },
  { value: 'wall', label: 'wall time' }
];

/** A series as the server returns it, with the per-point Unix times when it sent them. */
export type ITimedSeries = IScalarSeries & { times?: number[] };

/** Seconds per unit of the relative time axis, chosen from the longest span on the chart. */
export interface IRelativeUnit {
  label: string;
  seconds: number;
}

const UNITS: IRelativeUnit[] = [
  { label: 's', seconds: 1 },
  { label: 'min', seconds: 60 },
  { label: 'h', seconds: 3600 }
];

/** Seconds below 3 minutes, minutes below 3 hours, hours beyond. */
export function relativeUnit(spanSeconds: number): IRelativeUnit {
  if (spanSeconds <= 180) {
    return UNITS[0];
  }
  return spanSeconds <= 3 * 3600 ? UNITS[1] : UNITS[2];
}

/** When a run started, in Unix seconds (its `started` stamp, else its first point's time). */
export function runStart(task: ITask | undefined, series: ITimedSeries[]): number | null {
  const started = task?.started ? Date.parse(task.started) : NaN;
  if (!Number.isNaN(started)) {
    return started / 1000;
  }
  let first: number | null = null;
  for (const s of series) {
    for (const t of s.times ?? []) {
      if (first === null || t < first) {
        first = t;
      }
    }
  }
  return first;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/**
 * A Unix time as plotly's zone-less date text in the browser's local time (plotly would show
 * epoch milliseconds in UTC).
 */
export function localDate(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `.${pad(d.getMilliseconds(), 3)}`
  );
}

/** The Unix seconds of a plotly date text written by `localDate` (or a number passed through). */
export function parseLocalDate(value: string | number): number {
  if (typeof value === 'number') {
    return value / 1000;
  }
  return Date.parse(value.replace(' ', 'T')) / 1000;
}

/**
 * Seconds since the run's start for each point of `series`, or null when the server sent no
 * times (an older server): the caller then falls back to iterations.
 */
export function secondsSinceStart(
  series: ITimedSeries,
  start: number | null,
  isSystem: boolean
): number[] | null {
  if (isSystem) {
    return series.iterations.slice();
  }
  if (!series.times || series.times.length !== series.iterations.length || start === null) {
    return null;
  }
  return series.times.map(t => t - start);
}

/** Unix seconds of each point, or null when unknown. */
export function wallTimes(
  series: ITimedSeries,
  start: number | null,
  isSystem: boolean
): number[] | null {
  if (series.times && series.times.length === series.iterations.length) {
    return series.times.slice();
  }
  if (isSystem && start !== null) {
    return series.iterations.map(s => start + s);
  }
  return null;
}

/** What a chart needs to place one run's series on the chosen axis. */
export interface IXContext {
  mode: XAxisMode;
  /** The run's start (Unix seconds) for time since start. */
  start: number | null;
  /** System series: their iteration is seconds since the monitor started. */
  isSystem: boolean;
  unit: IRelativeUnit;
}

/**
 * The x values of one series on the chosen axis, or null when it cannot be placed there (no
 * times): the chart then draws iterations and says so.
 */
export function xValues(series: ITimedSeries, ctx: IXContext): Array<number | string> | null {
  if (ctx.mode === 'iteration') {
    return series.iterations;
  }
  if (ctx.mode === 'wall') {
    const times = wallTimes(series, ctx.start, ctx.isSystem);
    return times ? times.map(localDate) : null;
  }
  const seconds = secondsSinceStart(series, ctx.start, ctx.isSystem);
  return seconds ? seconds.map(s => s / ctx.unit.seconds) : null;
}

/** The longest time since start among `series` (for choosing the unit). */
export function longestSpan(
  runs: Array<{ series: ITimedSeries[]; start: number | null }>,
  isSystem: boolean
): number {
  let longest = 0;
  for (const run of runs) {
    for (const s of run.series) {
      const seconds = secondsSinceStart(s, run.start, isSystem);
      if (seconds && seconds.length) {
        longest = Math.max(longest, seconds[seconds.length - 1]);
      }
    }
  }
  return longest;
}

/** The x axis layout fragment for a mode. */
export function xAxisLayout(mode: XAxisMode, unit: IRelativeUnit): Record<string, unknown> {
  if (mode === 'wall') {
    return { type: 'date', title: { text: 'wall time' } };
  }
  if (mode === 'relative') {
    return { type: 'linear', title: { text: `time since start (${unit.label})` } };
  }
  return { type: 'linear', title: { text: 'iteration' } };
}

/**
 * The iterations [first, last] of the points a zoomed x range shows, for fetching that range
 * at full resolution; null when no point is inside.
 */
export function iterationRangeOf(
  xs: Array<number | string>,
  iterations: number[],
  from: number | string,
  to: number | string,
  mode: XAxisMode
): [number, number] | null {
  const asNumber = (v: number | string) =>
    mode === 'wall' ? parseLocalDate(v) : typeof v === 'number' ? v : Number(v);
  const lo = asNumber(from);
  const hi = asNumber(to);
  let first: number | null = null;
  let last: number | null = null;
  xs.forEach((x, i) => {
    const value = asNumber(x);
    if (value >= lo && value <= hi) {
      first = first === null ? iterations[i] : Math.min(first, iterations[i]);
      last = last === null ? iterations[i] : Math.max(last, iterations[i]);
    }
  });
  return first === null || last === null ? null : [first, last];
}
