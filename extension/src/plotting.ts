/**
 * Plotly, loaded lazily (its bundle is large) and themed from JupyterLab's CSS variables so
 * charts follow the light and dark themes.
 */

/** The part of the plotly API the extension uses. */
export interface IPlotly {
  newPlot(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
  react(el: HTMLElement, data: unknown[], layout?: unknown, config?: unknown): Promise<unknown>;
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

/** Apply the theme to a figure the user logged without hiding its own choices. */
export function themeFigure(layout: Record<string, unknown> | undefined): Record<string, unknown> {
  const base = themedLayout();
  const own = layout ?? {};
  return { ...base, ...own, font: { ...(base.font as object), ...((own.font as object) ?? {}) } };
}

export const PLOT_CONFIG = { responsive: true, displaylogo: false };
