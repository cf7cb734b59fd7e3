/** Small display helpers shared by the views. */

import { ITask } from './tokens';

/** `metric/variant` → [metric, variant]; the variant is after the last slash (metrics may hold slashes). */
export function splitMetricKey(key: string): [string, string] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** Every `metric/variant` key the tasks reported (system gauges included), sorted. */
export function allMetricKeys(tasks: ITask[]): string[] {
  const keys = new Set<string>();
  for (const task of tasks) {
    for (const [metric, variants] of Object.entries(task.last_metrics ?? {})) {
      for (const variant of Object.keys(variants)) {
        keys.add(`${metric}/${variant}`);
      }
    }
  }
  return [...keys].sort();
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

/** Hex digits of a task id shown wherever a run is named. */
export const SHORT_ID_LENGTH = 6;

/** The first hex digits of a task id: enough to tell runs apart at a glance. */
export function shortId(id: string): string {
  return id.slice(0, SHORT_ID_LENGTH);
}

/** `digits-sgd #3` when the project has several runs of that name (else just the name). */
export function runName(task: Pick<ITask, 'name' | 'run_number' | 'run_count'>): string {
  const numbered = (task.run_count ?? 1) > 1 && task.run_number;
  return numbered ? `${task.name} #${task.run_number}` : task.name;
}

/** How a run is named wherever runs sit side by side: `digits-sgd #3 · 1a2b3c`. */
export function runLabel(task: Pick<ITask, 'id' | 'name' | 'run_number' | 'run_count'>): string {
  return `${runName(task)} · ${shortId(task.id)}`;
}

/** Every hyperparameter as `Section/name` → value string (missing → undefined). */
export function flatParams(task: ITask): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [section, values] of Object.entries(task.hyperparams ?? {})) {
    for (const [name, p] of Object.entries(values)) {
      out[`${section}/${name}`] = p.value;
    }
  }
  return out;
}

/** Keys whose values are not the same in every task. */
export function differingKeys(params: Array<Record<string, string>>): Set<string> {
  const keys = new Set(params.flatMap(p => Object.keys(p)));
  const differ = new Set<string>();
  for (const key of keys) {
    const first = params[0][key];
    if (params.some(p => p[key] !== first)) {
      differ.add(key);
    }
  }
  return differ;
}

/** A run's hover text among `runs`: its label and id, then each parameter that differs. */
export function differingParamsText(task: ITask, runs: ITask[]): string {
  const differ = [...differingKeys(runs.map(flatParams))].sort();
  const mine = flatParams(task);
  const lines = differ.slice(0, 20).map(key => `${key} = ${mine[key] ?? '—'}`);
  if (differ.length > lines.length) {
    lines.push(`… and ${differ.length - lines.length} more`);
  }
  return [`${runLabel(task)} (${task.id})`, ...lines].join('\n');
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
