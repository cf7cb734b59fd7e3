import * as React from 'react';

import { IPlotly, loadPlotly, PLOT_CONFIG, withTheme } from '../plotting';

/**
 * A div drawn by plotly (loaded lazily). Re-draws with `Plotly.react` when `data`/`layout`
 * change; `onRelayout` receives plotly's relayout events (zoom, autoscale).
 */
export function PlotlyDiv(props: {
  data: unknown[];
  layout: Record<string, unknown>;
  className?: string;
  onRelayout?: (event: Record<string, unknown>) => void;
  onDrawn?: () => void;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const plotly = React.useRef<IPlotly | null>(null);
  const relayout = React.useRef(props.onRelayout);
  relayout.current = props.onRelayout;
  const latest = React.useRef({ data: props.data, layout: props.layout });
  latest.current = { data: props.data, layout: props.layout };
  const [error, setError] = React.useState<string | null>(null);

  React.useEffect(() => {
    let cancelled = false;
    const el = ref.current;
    if (!el) {
      return;
    }
    loadPlotly()
      .then(async Plotly => {
        if (cancelled) {
          return;
        }
        const first = plotly.current === null;
        plotly.current = Plotly;
        await Plotly.react(el, props.data, withTheme(props.layout), PLOT_CONFIG);
        if (first) {
          (el as any).on('plotly_relayout', (event: Record<string, unknown>) =>
            relayout.current?.(event)
          );
        }
        props.onDrawn?.();
      })
      .catch(reason => setError(`Could not draw the chart: ${String(reason)}`));
    return () => {
      cancelled = true;
    };
  }, [props.data, props.layout]);

  React.useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    // Plotly's own "responsive" only listens to window resizes; JupyterLab panels resize alone.
    const observer = new ResizeObserver(() => {
      if (plotly.current && el.offsetWidth > 0) {
        plotly.current.Plots.resize(el);
      }
    });
    observer.observe(el);
    // Redraw with the new colors when the user switches the JupyterLab theme (its CSS
    // variables settle shortly after the body attributes change, hence the delay).
    let timer = 0;
    const themeObserver = new MutationObserver(() => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        if (plotly.current) {
          const { data, layout } = latest.current;
          void plotly.current.react(el, data, withTheme(layout), PLOT_CONFIG);
        }
      }, 300);
    });
    themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
    return () => {
      observer.disconnect();
      themeObserver.disconnect();
      window.clearTimeout(timer);
      plotly.current?.purge(el);
    };
  }, []);

  return (
    <div className={`lt-plot-wrap ${props.className ?? ''}`}>
      {error && <div className="lt-error-message">{error}</div>}
      <div ref={ref} className="lt-plot" />
    </div>
  );
}
