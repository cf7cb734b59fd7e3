/**
 * Plotly, loaded lazily (its bundle is large) and themed from JupyterLab's CSS variables so
 * charts follow the light and dark themes.
 */

/** The part of the plotly API the extension uses. */
export interface IPlotly {
  newPlot(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
  react(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
  relayout(el: HTMLElement, update: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}

let plotlyPromise: Promise<IPlotly> | null = null;

/** Import plotly.js on first use; later calls share the same module. */
export function loadPlotly(): Promise<IPlotly> {
  if (!plotlyPromise) {
    plotlyPromise = import('plotly.js-dist-min').then(
      (mod: any) => (mod.default ?? mod) as IPlotly
    );
  }
  return plotlyPromise;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** A plotly layout fragment using the current theme's colors and fonts. */
export function themedLayout(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const font = cssVar('--jp-ui-font-color1', '#333');
  const grid = cssVar('--jp-border-color2', '#ddd');
  const axis = { gridcolor: grid, zerolinecolor: grid, linecolor: grid, color: font };
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { color: font, family: cssVar('--jp-ui-font-family', 'sans-serif'), size: 11 },
    margin: { l: 50, r: 10, t: 30, b: 35 },
    xaxis: { ...axis },
    yaxis: { ...axis },
    legend: { orientation: 'h', y: -0.2 },
    hoverlabel: { namelength: -1 },
    ...extra
  };
}

/**
 * The layout with the current theme's colors on the font, backgrounds and every axis; applied
 * at each draw so charts follow a theme switch.
 */
export function withTheme(layout: Record<string, unknown>): Record<string, unknown> {
  const font = cssVar('--jp-ui-font-color1', '#333');
  const grid = cssVar('--jp-border-color2', '#ddd');
  const out: Record<string, unknown> = {
    ...layout,
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: { ...((layout.font as object) ?? {}), color: font }
  };
  const axisKeys = Object.keys(layout).filter(k => /^[xy]axis\d*$/.test(k));
  for (const key of new Set(['xaxis', 'yaxis', ...axisKeys])) {
    out[key] = {
      ...((layout[key] as object) ?? {}),
      gridcolor: grid,
      zerolinecolor: grid,
      linecolor: grid,
      color: font
    };
  }
  if (layout.title && typeof layout.title === 'object') {
    const title = layout.title as Record<string, unknown>;
    out.title = { ...title, font: { ...((title.font as object) ?? {}), color: font } };
  }
  return out;
}

/** Apply the theme to a figure the user logged without hiding its own choices. */
export function themeFigure(layout: Record<string, unknown> | undefined): Record<string, unknown> {
  const base = themedLayout();
  const own = layout ?? {};
  return { ...base, ...own, font: { ...(base.font as object), ...((own.font as object) ?? {}) } };
}

export const PLOT_CONFIG = { responsive: true, displaylogo: false };

/**
 * SVG traces for the usual downsampled series, WebGL only for long raw ranges: creating a WebGL
 * context costs more than drawing a few thousand SVG points (and far more without a GPU).
 */
export function traceType(points: number): 'scatter' | 'scattergl' {
  return points > 5000 ? 'scattergl' : 'scatter';
}
