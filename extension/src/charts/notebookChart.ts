/**
 * The SDK's live chart (`task.live()`) in notebooks, alive or saved.
 *
 * The chart's display bundle holds the widget view, a static plotly copy of the figure and a
 * labtrack marker (labtrack/sdk/widgets.py). This renderer, registered for the marker in each
 * notebook's rendermime above the widget renderer, draws the static copy at once, and shows the
 * live widget instead only when the notebook's widget manager has the widget's model. So a
 * reopened notebook (or one whose kernel restarted) shows the saved chart, with no "Error
 * displaying widget: model not found", and never asks the widget manager for a model that is
 * gone. While the widget lives, saving the notebook writes the chart as it is now into the
 * static copy, so the file keeps the latest figure.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ISignal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import { IPlotly, loadPlotly } from '../plotting';

export const LIVE_CHART_MIME = 'application/vnd.labtrack.live-chart+json';
const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** Above the widget renderer (-10), so the bundle's marker decides what is shown. */
const RANK = -20;
/** How often the copy of a live chart kept in memory follows its redraws, at most. */
const SNAPSHOT_INTERVAL_MS = 1000;

interface IFigure {
  data?: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** The part of ipywidgets' (jupyterlab-manager 5) widget manager this renderer uses. */
interface IWidgetManager {
  readonly restoredStatus: boolean;
  readonly restored: ISignal<unknown, void>;
  has_model(id: string): boolean;
  get_model(id: string): Promise<IWidgetModel>;
}

/** The part of an ipywidgets model this renderer uses. */
interface IWidgetModel {
  once(event: string, callback: () => void): void;
  get(name: string): unknown;
}

/**
 * The widget manager behind a widget renderer. jupyterlab-manager exposes no token for it, so
 * this reads the renderer's manager promise; null when that changes in a future version.
 */
function managerOf(renderer: IRenderMime.IRenderer): Promise<IWidgetManager> | null {
  const delegate = (renderer as unknown as { _manager?: { promise?: Promise<IWidgetManager> } })
    ._manager;
  return delegate?.promise ?? null;
}

/** A JSON copy of a plotly graph div's figure (typed arrays as lists, no private `_` keys). */
function plainFigure(gd: { data?: unknown; layout?: unknown }): IFigure | null {
  if (!Array.isArray(gd.data)) {
    return null;
  }
  const text = JSON.stringify({ data: gd.data, layout: gd.layout ?? {} }, (key, value) => {
    if (key.startsWith('_')) {
      return undefined;
    }
    return ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value;
  });
  const figure = JSON.parse(text) as IFigure;
  figure.config = { displaylogo: false, responsive: true };
  return figure;
}

/** Every live chart renderer on the page, for the notebooks' save hooks. */
const renderers = new Set<LiveChartRenderer>();

export class LiveChartRenderer extends Panel implements IRenderMime.IRenderer {
  private _model: IRenderMime.IMimeModel | null = null;
  private _staticView = new Widget();
  /** Where plotly draws the static copy (apart from the note and the live view). */
  private _staticPlot = document.createElement('div');
  private _note = new Widget();
  private _plotly: IPlotly | null = null;
  private _drawn: unknown = null;
  private _live: IRenderMime.IRenderer | null = null;
  private _liveId = '';
  private _trying = '';
  private _gd: (HTMLElement & { data?: unknown; layout?: unknown; on?: Function }) | null = null;
  private _latest: IFigure | null = null;
  private _snapshotAt = 0;
  private _watcher = 0;
  private _widgetModel: IWidgetModel | null = null;
  private _behind = 0;
  private _renewedAt = 0;

  constructor(
    private readonly _options: IRenderMime.IRendererOptions,
    private readonly _rendermime: IRenderMimeRegistry
  ) {
    super();
    this.addClass('lt-live-chart-output');
    this._staticView.addClass('lt-saved-chart');
    this._staticPlot.className = 'lt-saved-plot';
    this._staticView.node.appendChild(this._staticPlot);
    this._note.addClass('lt-saved-chart-note');
    this.addWidget(this._staticView);
    this.addWidget(this._note);
    renderers.add(this);
  }

  /** Whether the live widget is shown (for tests: `data-lt-chart` says the same). */
  get isLive(): boolean {
    return this._live !== null;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._model = model;
    const marker = (model.data[LIVE_CHART_MIME] ?? {}) as { model_id?: string; task_id?: string };
    const modelId = marker.model_id ?? '';
    if (this._live && this._liveId === modelId) {
      return; // The live view stays; the new data is only a newer static copy.
    }
    const canLive = model.trusted && !!modelId && !!model.data[WIDGET_MIME];
    // A running chart goes live at once: its view must exist before the kernel's next updates.
    if (canLive && this._trying !== modelId) {
      this._trying = modelId;
      const live = await this._goLive(model, modelId, false);
      this._trying = '';
      if (live) {
        return;
      }
    }
    this._note.node.textContent = `Saved live chart${
      marker.task_id ? ` of task ${marker.task_id.slice(0, 8)}` : ''
    } (its widget is not running).`;
    this.node.dataset.ltChart = 'static';
    await this._drawStatic(model.data[PLOTLY_MIME] as IFigure | undefined);
    if (canLive && this._trying !== modelId) {
      // The manager may still restore the kernel's widgets (a page reload with the kernel on).
      this._trying = modelId;
      void this._goLive(model, modelId, true).finally(() => {
        this._trying = '';
      });
    }
  }

  /** Write the chart as the live widget shows it now into the output (before a save). */
  persist(): void {
    const model = this._model;
    const figure = this._snapshot(true);
    if (!model || !figure) {
      return;
    }
    model.setData({ data: { ...model.data, [PLOTLY_MIME]: figure as any } });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    renderers.delete(this);
    window.clearInterval(this._watcher);
    if (this._plotly) {
      this._plotly.purge(this._staticPlot);
    }
    super.dispose();
  }

  private async _drawStatic(figure: IFigure | undefined): Promise<void> {
    if (!figure || figure === this._drawn) {
      return;
    }
    this._drawn = figure;
    try {
      const Plotly = (this._plotly = await loadPlotly());
      if (this.isDisposed) {
        return;
      }
      // The copy keeps the size it had live; the width follows the notebook.
      const layout = { ...(figure.layout ?? {}), autosize: true, width: undefined };
      await Plotly.react(this._staticPlot, figure.data ?? [], layout, {
        ...(figure.config ?? {}),
        displaylogo: false,
        responsive: true
      });
    } catch (reason) {
      this._staticPlot.textContent = `Could not draw the saved chart: ${String(reason)}`;
    }
  }

  /**
   * Show the live widget when the notebook's widget manager has its model; true when shown.
   * With `waitRestore`, a model not there yet is looked for again once the manager has restored
   * the kernel's widgets (a page reload while the kernel runs).
   */
  private async _goLive(
    model: IRenderMime.IMimeModel,
    modelId: string,
    waitRestore: boolean
  ): Promise<boolean> {
    const factory = this._rendermime.getFactory(WIDGET_MIME);
    if (!factory) {
      return false; // No widget support here: the static copy is all there is.
    }
    const renderer = factory.createRenderer({ ...this._options, mimeType: WIDGET_MIME });
    const pending = managerOf(renderer);
    if (pending) {
      // ipywidgets creates a notebook's manager lazily: none yet means no live widget yet.
      const manager = waitRestore
        ? await pending
        : await Promise.race([
            pending,
            new Promise<null>(resolve => window.setTimeout(() => resolve(null), 0))
          ]);
      if (!manager) {
        renderer.dispose();
        return false;
      }
      // A model the manager has is shown now, restored or not: a plotly FigureWidget draws
      // only the updates that reach an existing view, so a view made later would miss them.
      if (!manager.has_model(modelId) && !manager.restoredStatus) {
        if (!waitRestore) {
          renderer.dispose();
          return false;
        }
        await new Promise<void>(resolve => {
          const done = () => {
            manager.restored.disconnect(done);
            resolve();
          };
          manager.restored.connect(done);
        });
      }
      if (this.isDisposed || this._model !== model || !manager.has_model(modelId)) {
        renderer.dispose();
        return false; // The widget is gone (another kernel): the static copy stays.
      }
      try {
        const widgetModel = await manager.get_model(modelId);
        this._widgetModel = widgetModel;
        widgetModel.once('destroy', () => this._backToStatic());
      } catch {
        renderer.dispose();
        return false;
      }
    }
    // (Without a manager to ask, an unknown jupyterlab-manager: the widget renderer decides.)
    this._live = renderer;
    this._liveId = modelId;
    this._staticView.hide();
    this._note.hide();
    this.addWidget(renderer as unknown as Widget);
    this.node.dataset.ltChart = 'live';
    await renderer.renderModel(model);
    this._watch();
    return true;
  }

  /**
   * While live: keep a copy of the figure as it redraws (the view may vanish any time), and
   * renew a view that misses traces its model has. (plotly's FigureWidget view follows edit
   * messages only once it has drawn; edits that arrive while it draws for the first time are
   * lost to it, and the chart would stay empty. A new view starts from the model's state.)
   */
  private _watch(): void {
    window.clearInterval(this._watcher);
    this._watcher = window.setInterval(() => {
      const live = this._live as unknown as Widget | null;
      const gd = live?.node.querySelector('.js-plotly-plot') as typeof this._gd;
      if (!gd || typeof gd.on !== 'function') {
        return;
      }
      if (gd !== this._gd) {
        this._gd = gd;
        gd.on('plotly_afterplot', () => this._snapshot(false));
        this._snapshot(true);
      }
      const drawn = Array.isArray(gd.data) ? gd.data.length : 0;
      const state = this._widgetModel?.get('_widget_data');
      const wanted = Array.isArray(state) ? state.length : 0;
      this._behind = drawn < wanted ? this._behind + 1 : 0;
      if (this._behind >= 3 && Date.now() - this._renewedAt > 3000) {
        this._behind = 0;
        this._renewedAt = Date.now();
        void this._renewView();
      }
    }, 500);
  }

  /** Replace the live view by a new one drawn from the widget model's current state. */
  private async _renewView(): Promise<void> {
    const factory = this._rendermime.getFactory(WIDGET_MIME);
    const model = this._model;
    const old = this._live as unknown as Widget | null;
    if (!factory || !model || !old) {
      return;
    }
    const fresh = factory.createRenderer({ ...this._options, mimeType: WIDGET_MIME });
    this.addWidget(fresh as unknown as Widget);
    await fresh.renderModel(model);
    if (this.isDisposed || this._live !== (old as unknown)) {
      (fresh as unknown as Widget).dispose();
      return;
    }
    this._live = fresh;
    this._gd = null;
    old.dispose();
    this.node.dataset.ltRenewed = String(Number(this.node.dataset.ltRenewed ?? 0) + 1);
  }

  private _snapshot(force: boolean): IFigure | null {
    const now = Date.now();
    if (this._gd && (force || now - this._snapshotAt >= SNAPSHOT_INTERVAL_MS)) {
      const figure = plainFigure(this._gd);
      if (figure) {
        this._latest = figure;
        this._snapshotAt = now;
      }
    }
    return this._latest;
  }

  /** The widget's model closed (kernel restarted or shut down): show and keep the last figure. */
  private _backToStatic(): void {
    const renderer = this._live as unknown as Widget | null;
    if (this.isDisposed || !renderer) {
      return;
    }
    const figure = this._latest;
    this._live = null;
    this._liveId = '';
    this._gd = null;
    this._widgetModel = null;
    window.clearInterval(this._watcher);
    renderer.dispose();
    this._staticView.show();
    this._note.show();
    this.node.dataset.ltChart = 'static';
    const model = this._model;
    if (model && figure) {
      model.setData({ data: { ...model.data, [PLOTLY_MIME]: figure as any } });
    } else if (model) {
      void this._drawStatic(model.data[PLOTLY_MIME] as IFigure | undefined);
    }
  }
}

/** Register the renderer in one notebook's rendermime and its save hook. */
function installIn(panel: NotebookPanel): void {
  const rendermime = panel.content.rendermime;
  if (rendermime.getFactory(LIVE_CHART_MIME)) {
    return;
  }
  rendermime.addFactory(
    {
      safe: true,
      mimeTypes: [LIVE_CHART_MIME],
      createRenderer: options => new LiveChartRenderer(options, rendermime)
    },
    RANK
  );
  panel.context.saveState.connect((_, state) => {
    if (state !== 'started') {
      return;
    }
    for (const renderer of renderers) {
      if (renderer.isLive && panel.node.contains(renderer.node)) {
        renderer.persist();
      }
    }
  });
}

/** Live charts in every notebook, open now or later. */
export function installLiveCharts(notebooks: INotebookTracker): void {
  notebooks.forEach(installIn);
  notebooks.widgetAdded.connect((_, panel) => installIn(panel));
}
