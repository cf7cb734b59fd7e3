/**
 * The experiment list's metric column: the last value of one metric at the right of every row,
 * readable whatever the row's width (the metric's name is the column's caption and the
 * tooltip, never a prefix that pushes the value out of sight). The column shows the metric
 * chosen in its picker, else the metric the list is sorted by.
 */
import * as React from 'react';

import { metricStat, num } from '../format';
import { ITask } from '../tokens';
import { useChartPrefs } from '../charts/prefs';
import { isSystemMetric } from '../charts/system';

/** The `metric/variant` of a `metric:<key>` sort (with or without the `-`), else null. */
export function sortMetricKey(sort: string): string | null {
  const match = /^-?metric:(.+\/[^/]+)$/.exec(sort);
  return match ? match[1] : null;
}

/** The key the column shows for a sort: the chosen one, else the sort's metric, else none. */
export function useMetricColumn(sort: string): string | null {
  const [prefs] = useChartPrefs();
  return prefs.listMetric || sortMetricKey(sort);
}

/** One row's cell: the value large, the metric below it small. */
export function MetricCell(props: { task: ITask; metricKey: string }): JSX.Element {
  const { task, metricKey } = props;
  const last = metricStat(task, metricKey, 'last');
  const min = metricStat(task, metricKey, 'min');
  const max = metricStat(task, metricKey, 'max');
  const title =
    last === null
      ? `${metricKey}: not reported by this run`
      : `${metricKey}: last ${last} (min ${num(min)}, max ${num(max)})`;
  return (
    <div className="lt-task-value" data-metric={metricKey} title={title}>
      <div className="lt-task-value-number">{num(last)}</div>
      <div className="lt-task-value-key">{metricKey}</div>
    </div>
  );
}

/** The picker of the column's metric (the runs' own metrics; never the system gauges). */
export function MetricColumnPicker(props: { keys: string[] }): JSX.Element {
  const [prefs, setPrefs] = useChartPrefs();
  const keys = props.keys.filter(key => !isSystemMetric(key));
  if (prefs.listMetric && !keys.includes(prefs.listMetric)) {
    keys.unshift(prefs.listMetric);
  }
  return (
    <select
      className="lt-select lt-column-pick"
      aria-label="Metric column"
      title="The metric whose last value each row shows on its right"
      value={prefs.listMetric}
      onChange={event => setPrefs({ listMetric: event.target.value })}
    >
      <option value="">the sort metric</option>
      {keys.map(key => (
        <option key={key} value={key}>
          last {key}
        </option>
      ))}
    </select>
  );
}
