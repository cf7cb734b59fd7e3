/**
 * System series: the SDK's resource monitor reports CPU, memory and GPU gauges as scalars under
 * the title `:monitor:` (labtrack/sdk/capture.py, `ResourceMonitor`), with the *seconds since
 * the monitor started* in the iteration field. They are not training metrics: views draw them in
 * their own "System" section against time, and leave them out of sorting, last-metric tables
 * and the task's iteration count.
 */
import { ITask } from '../tokens';

/** The metric title of the SDK's resource monitor. */
export const MONITOR_METRIC = ':monitor:';

/**
 * Whether a metric title, or a `metric/variant` key, is a system series. (`:monitor:` and any
 * `:monitor:<group>` title, as ClearML names its machine and GPU monitors.)
 */
export function isSystemMetric(metricOrKey: string): boolean {
  return metricOrKey.startsWith(MONITOR_METRIC);
}

/** The `metric/variant` keys that are the user's own metrics. */
export function userMetricKeys(keys: Iterable<string>): string[] {
  return [...keys].filter(key => !isSystemMetric(key));
}

/**
 * The last training iteration of a task: the highest `last_iteration` of its own metrics.
 *
 * The server's `task.last_iteration` is the highest iteration of *any* series, so a task that
 * only ran the resource monitor for 50 seconds says "iteration 50". When the task has system
 * series, the value comes from the other series' summaries instead (null when there are none).
 */
export function userLastIteration(task: ITask): number | null {
  const metrics = Object.entries(task.last_metrics ?? {});
  if (!metrics.some(([metric]) => isSystemMetric(metric))) {
    return task.last_iteration ?? null;
  }
  let last: number | null = null;
  for (const [metric, variants] of metrics) {
    if (isSystemMetric(metric)) {
      continue;
    }
    for (const summary of Object.values(variants)) {
      if (summary.count > 0 && (last === null || summary.last_iteration > last)) {
        last = summary.last_iteration;
      }
    }
  }
  return last;
}

/** One chart of the System section: a gauge (or a pair of gauges with the same unit). */
export interface ISystemChart {
  /** Stable id, used as the chart's `data-metric` (`system:cpu`, `system:gpu0-memory`). */
  id: string;
  title: string;
  /** The y axis unit: `%`, `GB` or '' for an unknown gauge. */
  unit: string;
  /** The monitor variants drawn, in order. */
  variants: string[];
  /** A legend label per variant. */
  labels: Record<string, string>;
}

const GPU = /^gpu_(\d+)_(.+)$/;

function unitOf(variant: string): string {
  return /(_percent|utilization)$/.test(variant) ? '%' : /_gb$/.test(variant) ? 'GB' : '';
}

/**
 * The charts for a set of monitor variants: CPU, memory (the machine's use and this process's
 * resident set, both in GB), then per GPU device its utilization and its memory, then one chart
 * per gauge this version does not know. Units never share an axis.
 */
export function systemCharts(variants: Iterable<string>): ISystemChart[] {
  const present = new Set(variants);
  const charts: ISystemChart[] = [];
  const used = new Set<string>();
  const take = (chart: ISystemChart) => {
    const mine = chart.variants.filter(v => present.has(v));
    if (mine.length) {
      charts.push({ ...chart, variants: mine });
      mine.forEach(v => used.add(v));
    }
  };
  take({
    id: 'system:cpu',
    title: 'CPU utilization',
    unit: '%',
    variants: ['cpu_percent'],
    labels: { cpu_percent: 'CPU' }
  });
  take({
    id: 'system:memory',
    title: 'Memory',
    unit: 'GB',
    variants: ['memory_used_gb', 'process_rss_gb'],
    labels: { memory_used_gb: 'machine used', process_rss_gb: 'this process (RSS)' }
  });
  const devices = [...present]
    .map(v => GPU.exec(v))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(m => Number(m[1]));
  for (const device of [...new Set(devices)].sort((a, b) => a - b)) {
    const utilization = `gpu_${device}_utilization`;
    const memory = `gpu_${device}_memory_used_gb`;
    take({
      id: `system:gpu${device}-utilization`,
      title: `GPU ${device} utilization`,
      unit: '%',
      variants: [utilization],
      labels: { [utilization]: `GPU ${device}` }
    });
    take({
      id: `system:gpu${device}-memory`,
      title: `GPU ${device} memory`,
      unit: 'GB',
      variants: [memory],
      labels: { [memory]: `GPU ${device} memory used` }
    });
  }
  for (const variant of [...present].filter(v => !used.has(v)).sort()) {
    charts.push({
      id: `system:${variant}`,
      title: variant.replace(/_/g, ' '),
      unit: unitOf(variant),
      variants: [variant],
      labels: { [variant]: variant }
    });
  }
  return charts;
}
