/**
 * Compare 2..N experiments: each metric's curves overlaid (one color per run), the
 * hyperparameters that differ (or all), the last/min/max metrics table, and parallel
 * coordinates of hyperparameters against a chosen metric. Live while a compared run runs.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { getTasksByIds } from '../../api';
import { LabtrackError } from '../../request';
import { allMetricKeys, differingParamsText, runColor, runLabel, splitMetricKey } from '../../format';
import { ILabtrackSettings, ITask } from '../../tokens';
import { ChartControls } from '../../charts/ChartControls';
import { useChartPrefs } from '../../charts/prefs';
import { isSystemMetric } from '../../charts/system';
import { StatusIcon } from '../../components/StatusIcon';
import { ChartSection } from './OverlayChart';
import { MetricsTable, ParallelCoordinates, ParamTable } from './tables';

/** Statuses whose runs still change: the panel polls while one of them is compared. */
const LIVE = new Set(['queued', 'in_progress']);

/** The compare panel's body. */
export function CompareBody(props: {
  ids: string[];
  settings: () => ILabtrackSettings;
  isVisible: () => boolean;
}): JSX.Element {
  const { ids, settings, isVisible } = props;
  const [tasks, setTasks] = React.useState<ITask[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [pollError, setPollError] = React.useState<string | null>(null);
  const drawn = React.useRef(0);
  const rootRef = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    getTasksByIds(ids)
      .then(page => {
        // Keep the order of the selection so colors stay stable.
        const byId = new Map(page.items.map(t => [t.id, t]));
        setTasks(ids.map(id => byId.get(id)).filter((t): t is ITask => !!t));
      })
      .catch(reason => setError(reason instanceof LabtrackError ? reason.message : String(reason)));
  }, [ids.join(',')]);

  // Live: while a compared run is queued or running and the panel is shown, re-read those
  // runs at the settings interval; only runs whose `last_update` moved are replaced, so the
  // charts re-read just their series. The timer ends with the last live run or the panel.
  const liveIds = (tasks ?? []).filter(t => LIVE.has(t.status)).map(t => t.id);
  const liveKey = liveIds.join(',');
  React.useEffect(() => {
    if (!liveKey) {
      return;
    }
    const wanted = liveKey.split(',');
    let busy = false;
    const timer = window.setInterval(
      () => {
        if (busy || !isVisible() || document.hidden) {
          return;
        }
        busy = true;
        getTasksByIds(wanted)
          .then(page => {
            const fresh = new Map(page.items.map(t => [t.id, t]));
            setTasks(prev => {
              if (!prev) {
                return prev;
              }
              let changed = false;
              const next = prev.map(t => {
                const f = fresh.get(t.id);
                if (f && (f.last_update !== t.last_update || f.status !== t.status)) {
                  changed = true;
                  return f;
                }
                return t;
              });
              return changed ? next : prev;
            });
            setPollError(null);
          })
          .catch(reason =>
            setPollError(reason instanceof LabtrackError ? reason.message : String(reason))
          )
          .finally(() => {
            busy = false;
          });
      },
      Math.max(1, settings().refreshInterval) * 1000
    );
    return () => window.clearInterval(timer);
  }, [liveKey]);

  const [prefs, setPrefs] = useChartPrefs();
  // Every metric title: the runs' own first, then the system gauges (drawn in their section).
  const metrics = React.useMemo(() => {
    const titles = [...new Set(allMetricKeys(tasks ?? []).map(k => splitMetricKey(k)[0]))];
    return [...titles.filter(m => !isSystemMetric(m)), ...titles.filter(isSystemMetric)];
  }, [tasks]);
  const userMetrics = metrics.filter(m => !isSystemMetric(m));
  const systemMetrics = metrics.filter(isSystemMetric);
  const [chartsDone, setChartsDone] = React.useState(false);
  const onDrawn = React.useCallback(() => {
    drawn.current += 1;
    // The benchmark and browser tests wait for this attribute.
    rootRef.current?.setAttribute('data-charts-drawn', String(drawn.current));
    if (drawn.current >= metricCount.current) {
      setChartsDone(true);
    }
  }, []);
  const metricCount = React.useRef(0);
  metricCount.current = metrics.length;
  if (error) {
    return (
      <div className="lt-error" role="alert">
        <div className="lt-error-title">Cannot compare</div>
        <div className="lt-error-message">{error}</div>
      </div>
    );
  }
  if (!tasks) {
    return <div className="lt-empty">Loading {ids.length} experiments…</div>;
  }
  return (
    <div
      className="lt-compare"
      ref={rootRef}
      data-metric-count={metrics.length}
      data-live-runs={liveIds.length}
    >
      {pollError && <div className="lt-error-message">{pollError}</div>}
      <div className="lt-compare-runs">
        {liveIds.length > 0 && <span className="lt-live">live</span>}
        {tasks.map((t, i) => (
          <span
            key={t.id}
            className="lt-run-chip"
            data-task-id={t.id}
            data-status={t.status}
            style={{ borderColor: runColor(i) }}
            title={differingParamsText(t, tasks)}
          >
            <span className="lt-swatch" style={{ background: runColor(i) }} />
            <StatusIcon status={t.status} /> {runLabel(t)}
          </span>
        ))}
      </div>
      <div className="lt-section">
        <div className="lt-section-head">
          <h3>Scalars</h3>
          {metrics.length > 0 && <ChartControls prefs={prefs} onChange={setPrefs} />}
        </div>
        {userMetrics.length === 0 && (
          <div className="lt-empty">These experiments reported no scalars.</div>
        )}
        <ChartSection
          metrics={userMetrics}
          tasks={tasks}
          buckets={settings().chartBuckets}
          prefs={prefs}
          onDrawn={onDrawn}
        />
      </div>
      {systemMetrics.length > 0 && (
        <div className="lt-section lt-system">
          <h3>System</h3>
          <ChartSection
            metrics={systemMetrics}
            tasks={tasks}
            buckets={settings().chartBuckets}
            prefs={prefs}
            onDrawn={onDrawn}
          />
        </div>
      )}
      <ParamTable tasks={tasks} />
      <MetricsTable tasks={tasks} />
      {/* Parallel coordinates draw with WebGL (slow without a GPU): after the curves. */}
      {chartsDone || metrics.length === 0 ? (
        <ParallelCoordinates tasks={tasks} />
      ) : (
        <div className="lt-section lt-dim">Parallel coordinates follow the charts…</div>
      )}
    </div>
  );
}

let compareCount = 0;

/** Create the main-area compare widget. */
export function createComparePanel(
  ids: string[],
  settings: () => ILabtrackSettings
): MainAreaWidget {
  let widget: MainAreaWidget | null = null;
  const content = ReactWidget.create(
    <CompareBody
      ids={ids}
      settings={settings}
      isVisible={() => widget !== null && !widget.isDisposed && widget.isVisible}
    />
  );
  content.addClass('lt-compare-content');
  widget = new MainAreaWidget({ content });
  widget.id = `labtrack-compare-${++compareCount}`;
  widget.title.label = `Compare (${ids.length})`;
  widget.title.closable = true;
  widget.addClass('lt-main');
  return widget;
}
