/** Small display helpers shared by the views. */

import { ITask } from './tokens';

/** `metric/variant` → [metric, variant]; the variant is after the last slash (metrics may hold slashes). */
export function splitMetricKey(key: string): [string, string] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** A task's last/min/max of the series `metric/variant`, or null when it has none. */
export function metricStat(
  task: ITask,
  key: string,
  stat: 'last' | 'min' | 'max' = 'last'
): number | null {
  const [metric, variant] = splitMetricKey(key);
  return task.last_metrics?.[metric]?.[variant]?.[stat] ?? null;
}

/** "3 min ago" style relative time for an ISO timestamp. */
export function relativeTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const then = Date.parse(iso);
  if (isNaN(then)) {
    return iso;
  }
  const seconds = Math.round((Date.now() - then) / 1000);
  if (seconds < 45) {
    return 'just now';
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 36) {
    return `${hours} h ago`;
  }
  return `${Math.round(hours / 24)} d ago`;
}

/** A local date-time for an ISO timestamp, or an em dash. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) {
    return '—';
  }
  const date = new Date(iso);
  return isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** Duration between two ISO timestamps (or until now). */
export function duration(start: string | null, end: string | null): string {
  if (!start) {
    return '—';
  }
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (isNaN(ms) || ms < 0) {
    return '—';
  }
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

/** Compact number for tables: 4 significant digits, exponent for extremes. */
export function num(value: number | null | undefined): string {
  if (value === null || value === undefined || !isFinite(value)) {
    return '—';
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3);
  }
  return Number(value.toPrecision(5)).toString();
}

export function bytes(size: number | null | undefined): string {
  if (size === null || size === undefined) {
    return '—';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

/** Label of a task status for people. */
export function statusLabel(status: string): string {
  return status.replace('_', ' ');
}

/** A distinct color per run: a fixed palette first, then golden-angle hues. */
export function runColor(index: number): string {
  const palette = [
    '#1f77b4',
    '#ff7f0e',
    '#2ca02c',
    '#d62728',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#7f7f7f',
    '#bcbd22',
    '#17becf'
  ];
  if (index < palette.length) {
    return palette[index];
  }
  const hue = (index * 137.508) % 360;
  return `hsl(${hue.toFixed(0)}, 65%, 50%)`;
}
