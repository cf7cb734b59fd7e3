/**
 * Compare's tables: the hyperparameters that differ (or all), last/min/max of every metric, and
 * parallel coordinates of the differing hyperparameters against a chosen metric.
 */
import * as React from 'react';

import { allMetricKeys, differingKeys, flatParams, metricStat, num, runColor, runLabel } from '../../format';
import { themedLayout } from '../../plotting';
import { ITask } from '../../tokens';
import { userMetricKeys } from '../../charts/system';
import { PlotlyDiv } from '../../components/PlotlyDiv';
import { WhenVisible } from '../../components/Lazy';

/** The runs' own metrics (`metric/variant`), without the system gauges. */
function metricKeys(tasks: ITask[]): string[] {
  return userMetricKeys(allMetricKeys(tasks));
}

export function ParamTable(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const [showAll, setShowAll] = React.useState(false);
  const params = React.useMemo(() => tasks.map(flatParams), [tasks]);
  const differ = React.useMemo(() => differingKeys(params), [params]);
  const keys = [...new Set(params.flatMap(p => Object.keys(p)))]
    .filter(k => showAll || differ.has(k))
    .sort();
  return (
    <div className="lt-section">
      <div className="lt-section-head">
        <h3>Hyperparameters</h3>
        <label className="lt-toggle">
          <input type="checkbox" checked={showAll} onChange={e => setShowAll(e.target.checked)} />{' '}
          show all ({differ.size} of {new Set(params.flatMap(p => Object.keys(p))).size} differ)
        </label>
      </div>
      {keys.length === 0 ? (
        <div className="lt-empty">
          {showAll ? 'No hyperparameters.' : 'All hyperparameters are equal.'}
        </div>
      ) : (
        <div className="lt-table-scroll">
          <table className="lt-table lt-param-table">
            <thead>
              <tr>
                <th>parameter</th>
                {runHeaderCells(tasks)}
              </tr>
            </thead>
            <tbody>
              {keys.map(key => (
                <tr key={key} data-param={key} className={differ.has(key) ? 'lt-differs' : ''}>
                  <th>{key}</th>
                  {params.map((p, i) => (
                    <td key={i}>{p[key] ?? '—'}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** One column header per run, underlined in the run's chart color. */
function runHeaderCells(tasks: ITask[]): JSX.Element[] {
  return tasks.map((t, i) => (
    <th key={t.id} style={{ borderBottom: `3px solid ${runColor(i)}` }}>
      {runLabel(t)}
    </th>
  ));
}

export function MetricsTable(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const keys = metricKeys(tasks);
  return (
    <div className="lt-section">
      <h3>Metrics (last / min / max)</h3>
      <div className="lt-table-scroll">
        <table className="lt-table lt-metrics-table">
          <thead>
            <tr>
              <th>metric</th>
              <th />
              {runHeaderCells(tasks)}
            </tr>
          </thead>
          <tbody>
            {keys.flatMap(key =>
              (['last', 'min', 'max'] as const).map(stat => (
                <tr key={`${key}-${stat}`} className={stat === 'last' ? 'lt-first-stat' : ''}>
                  <th>{stat === 'last' ? key : ''}</th>
                  <td className="lt-dim">{stat}</td>
                  {tasks.map(t => (
                    <td key={t.id}>{num(metricStat(t, key, stat))}</td>
                  ))}
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function ParallelCoordinates(props: { tasks: ITask[] }): JSX.Element {
  const { tasks } = props;
  const keys = metricKeys(tasks);
  const [metricKey, setMetricKey] = React.useState(keys[0] ?? '');
  const params = tasks.map(flatParams);
  const differ = [...differingKeys(params)].sort().slice(0, 15);
  const data = React.useMemo(() => {
    const dims: Record<string, unknown>[] = differ.map(key => {
      const raw = params.map(p => p[key]);
      const numeric = raw.every(v => v !== undefined && v !== '' && !isNaN(Number(v)));
      if (numeric) {
        return { label: key, values: raw.map(Number) };
      }
      // Categorical: map each distinct value to a tick.
      const cats = [...new Set(raw.map(v => v ?? '—'))].sort();
      return {
        label: key,
        values: raw.map(v => cats.indexOf(v ?? '—')),
        tickvals: cats.map((_, i) => i),
        ticktext: cats.map(c => (c.length > 12 ? c.slice(0, 11) + '…' : c))
      };
    });
    const values = tasks.map(t => metricStat(t, metricKey) ?? NaN);
    dims.push({ label: metricKey, values });
    return [
      {
        type: 'parcoords',
        line: { color: values, colorscale: 'Viridis', showscale: true },
        dimensions: dims
      }
    ];
  }, [tasks, metricKey]);
  const layout = React.useMemo(
    () => themedLayout({ height: 340, margin: { l: 70, r: 70, t: 50, b: 30 } }),
    []
  );
  if (!keys.length || !differ.length) {
    return (
      <div className="lt-section">
        <h3>Parallel coordinates</h3>
        <div className="lt-empty">Needs hyperparameters that differ and at least one metric.</div>
      </div>
    );
  }
  return (
    <div className="lt-section lt-parcoords">
      <div className="lt-section-head">
        <h3>Parallel coordinates</h3>
        <select
          className="lt-select"
          value={metricKey}
          onChange={e => setMetricKey(e.target.value)}
        >
          {keys.map(k => (
            <option key={k} value={k}>
              {k} (last)
            </option>
          ))}
        </select>
      </div>
      <WhenVisible minHeight={340}>{() => <PlotlyDiv data={data} layout={layout} />}</WhenVisible>
    </div>
  );
}
