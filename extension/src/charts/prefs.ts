/**
 * How metrics are drawn: the scalar charts' smoothing, log y and x axis (shared by the task view
 * and Compare) and the experiment list's metric column, kept in the settings registry
 * (`labtrack:charts`, schema/charts.json), so a choice made in one chart applies to every chart
 * and survives a reload.
 *
 * The store is one per page: the charts plugin attaches it to the registry; until then (and
 * without a registry) it holds the defaults and changes live in memory only.
 */
import * as React from 'react';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

import { MAX_SMOOTHING } from './smoothing';
import { XAxisMode } from './xaxis';

export interface IChartPrefs {
  /** EMA weight in [0, 0.99]; 0 draws the raw curves only. */
  smoothing: number;
  logY: boolean;
  xAxis: XAxisMode;
  /** `metric/variant` shown as the experiment list's value column ('' = the sort metric). */
  listMetric: string;
}

export const DEFAULT_CHART_PREFS: IChartPrefs = {
  smoothing: 0,
  logY: false,
  xAxis: 'iteration',
  listMetric: ''
};

const X_MODES: XAxisMode[] = ['iteration', 'wall', 'relative'];

/** Valid preferences from anything (settings JSON), defaults where a value is missing or wrong. */
export function normalizePrefs(raw: Partial<Record<keyof IChartPrefs, unknown>>): IChartPrefs {
  const smoothing = Number(raw.smoothing);
  return {
    smoothing: Number.isFinite(smoothing) ? Math.min(Math.max(smoothing, 0), MAX_SMOOTHING) : 0,
    logY: raw.logY === true,
    xAxis: X_MODES.includes(raw.xAxis as XAxisMode) ? (raw.xAxis as XAxisMode) : 'iteration',
    listMetric: typeof raw.listMetric === 'string' ? raw.listMetric : ''
  };
}

/** The page's chart preferences with a change signal. */
export class ChartPrefsStore {
  private _prefs: IChartPrefs = { ...DEFAULT_CHART_PREFS };
  private _settings: ISettingRegistry.ISettings | null = null;
  private _changed = new Signal<this, IChartPrefs>(this);
  private _saveTimer = 0;
  /** Registry writes in flight: their echoes must not undo a key not yet written. */
  private _writing = 0;

  get prefs(): IChartPrefs {
    return this._prefs;
  }

  get changed(): ISignal<this, IChartPrefs> {
    return this._changed;
  }

  /** Follow (and write to) the loaded settings of the charts plugin. */
  attach(settings: ISettingRegistry.ISettings): void {
    this._settings = settings;
    const apply = () => {
      if (this._writing === 0) {
        this._apply(normalizePrefs(settings.composite as Record<string, unknown>));
      }
    };
    settings.changed.connect(apply);
    apply();
  }

  /** Change some preferences now; the registry is written shortly after (a slider drags). */
  update(patch: Partial<IChartPrefs>): void {
    this._apply(normalizePrefs({ ...this._prefs, ...patch }));
    const settings = this._settings;
    if (!settings) {
      return;
    }
    window.clearTimeout(this._saveTimer);
    this._saveTimer = window.setTimeout(() => {
      const next = this._prefs;
      // Only the keys that differ: set() per key rewrites the user's settings file each time.
      for (const key of Object.keys(next) as Array<keyof IChartPrefs>) {
        if (settings.composite[key] !== next[key]) {
          this._writing += 1;
          settings
            .set(key, next[key])
            .catch(reason => {
              console.warn(`labtrack: could not save the chart setting ${key}`, reason);
            })
            .finally(() => {
              this._writing -= 1;
            });
        }
      }
    }, 300);
  }

  private _apply(next: IChartPrefs): void {
    const prev = this._prefs;
    if (
      prev.smoothing === next.smoothing &&
      prev.logY === next.logY &&
      prev.xAxis === next.xAxis &&
      prev.listMetric === next.listMetric
    ) {
      return;
    }
    this._prefs = next;
    this._changed.emit(next);
  }
}

/** The page's store (attached by the charts plugin). */
export const chartPrefs = new ChartPrefsStore();

/** The current preferences, re-rendering on change, and a setter. */
export function useChartPrefs(): [IChartPrefs, (patch: Partial<IChartPrefs>) => void] {
  const [prefs, setPrefs] = React.useState(chartPrefs.prefs);
  React.useEffect(() => {
    const onChange = (_: ChartPrefsStore, next: IChartPrefs) => setPrefs(next);
    chartPrefs.changed.connect(onChange);
    setPrefs(chartPrefs.prefs);
    return () => {
      chartPrefs.changed.disconnect(onChange);
    };
  }, []);
  return [prefs, patch => chartPrefs.update(patch)];
}
