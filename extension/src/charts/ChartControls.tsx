/**
 * The toolbar above scalar charts: smoothing slider, log y, x axis. Every chart on the page
 * follows it (the choices are settings, see prefs.ts).
 */
import * as React from 'react';

import { IChartPrefs } from './prefs';
import { MAX_SMOOTHING } from './smoothing';
import { X_AXIS_MODES, XAxisMode } from './xaxis';

export function ChartControls(props: {
  prefs: IChartPrefs;
  onChange: (patch: Partial<IChartPrefs>) => void;
}): JSX.Element {
  const { prefs, onChange } = props;
  return (
    <div className="lt-chart-controls" role="toolbar" aria-label="Chart options">
      <label className="lt-chart-control" title="Exponential moving average (debiased)">
        Smoothing
        <input
          className="lt-smoothing"
          type="range"
          min={0}
          max={MAX_SMOOTHING}
          step={0.01}
          value={prefs.smoothing}
          aria-label="Smoothing"
          onChange={event => onChange({ smoothing: Number(event.target.value) })}
        />
        <span className="lt-smoothing-value">{prefs.smoothing.toFixed(2)}</span>
      </label>
      <label className="lt-chart-control">
        <input
          className="lt-log-y"
          type="checkbox"
          checked={prefs.logY}
          onChange={event => onChange({ logY: event.target.checked })}
        />{' '}
        log y
      </label>
      <label className="lt-chart-control">
        x axis
        <select
          className="lt-select lt-x-axis"
          value={prefs.xAxis}
          aria-label="x axis"
          onChange={event => onChange({ xAxis: event.target.value as XAxisMode })}
        >
          {X_AXIS_MODES.map(mode => (
            <option key={mode.value} value={mode.value}>
              {mode.label}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
