/**
 * The task view's Scalars tab: the chart toolbar, one chart per metric the run reported, then a
 * "System" section with the resource monitor's gauges against time (one chart per gauge, GPUs
 * per device).
 */
import * as React from 'react';

import { getScalarsForTasks } from '../api';
import { IMetricInfo, ITask } from '../tokens';
import { ChartControls } from '../charts/ChartControls';
import { useChartPrefs } from '../charts/prefs';
import { ISystemChart, isSystemMetric, systemCharts } from '../charts/system';
import { ITimedSeries } from '../charts/xaxis';
import { ScalarChart } from './ScalarChart';

/** One chart of the System section (chart null: its series are still loading). */
interface IGauge {
  name: string;
  chart: ISystemChart | null;
  series: ITimedSeries[];
}

export function ScalarsTab(props: {
  task: ITask;
  metrics: IMetricInfo[];
  tick: number;
  buckets: number;
}): JSX.Element {
  const { task, metrics, tick, buckets } = props;
  const [prefs, setPrefs] = useChartPrefs();
  const names = React.useMemo(() => [...new Set(metrics.map(m => m.metric))].sort(), [metrics]);
  const userNames = names.filter(name => !isSystemMetric(name));
  const systemNames = names.filter(isSystemMetric);
  const [series, setSeries] = React.useState<Record<string, ITimedSeries[]>>({});
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    let cancelled = false;
    Promise.all(names.map(name => getScalarsForTasks([task.id], name, buckets)))
      .then(all => {
        if (cancelled) {
          return;
        }
        const next: Record<string, ITimedSeries[]> = {};
        names.forEach((name, i) => (next[name] = all[i]));
        setSeries(next);
        setError(null);
      })
      .catch(reason => setError(String(reason.message ?? reason)));
    return () => {
      cancelled = true;
    };
  }, [task.id, names.join('\n'), tick]);
  // The monitor's series split into gauges (memoised: a new array would redraw every chart).
  const systemKey = systemNames.join('\n');
  const gauges = React.useMemo(
    () =>
      systemNames.flatMap((name): IGauge[] => {
        const all = series[name];
        if (!all) {
          return [{ name, chart: null, series: [] }];
        }
        return systemCharts(all.map(s => s.variant)).map(chart => ({
          name,
          chart,
          series: chart.variants.map(v => all.find(s => s.variant === v)!)
        }));
      }),
    [series, systemKey]
  );
  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!names.length) {
    return <div className="lt-empty">No scalars reported yet.</div>;
  }
  const loading = (name: string) => (
    <div key={name} className="lt-chart lt-dim">
      loading {name}…
    </div>
  );
  return (
    <div className="lt-scalars">
      <ChartControls prefs={prefs} onChange={setPrefs} />
      {userNames.length === 0 && (
        <div className="lt-empty">This run reported no metrics of its own yet.</div>
      )}
      <div className="lt-charts">
        {userNames.map(name =>
          series[name] ? (
            <ScalarChart
              key={name}
              task={task}
              metric={name}
              series={series[name]}
              buckets={buckets}
              prefs={prefs}
            />
          ) : (
            loading(name)
          )
        )}
      </div>
      {systemNames.length > 0 && (
        <div className="lt-section lt-system">
          <h3>System</h3>
          <div className="lt-charts">
            {gauges.map(({ name, chart, series: gauge }) =>
              chart ? (
                <ScalarChart
                  key={chart.id}
                  task={task}
                  metric={name}
                  chartId={chart.id}
                  title={chart.title}
                  series={gauge}
                  buckets={buckets}
                  prefs={prefs}
                  system={chart}
                />
              ) : (
                loading(name)
              )
            )}
          </div>
        </div>
      )}
    </div>
  );
}
