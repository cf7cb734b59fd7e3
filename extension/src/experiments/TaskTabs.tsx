/**
 * The task view's data tabs: logged plots and tables, console, artifacts, code snapshot.
 */
import * as React from 'react';

import {
  fetchArtifactBlob,
  getConsoleAfter,
  getConsoleTail,
  getPlots,
  getTables,
  listArtifacts
} from '../api';
import { bytes, dateTime } from '../format';
import { themeFigure } from '../plotting';
import { IArtifact, IConsoleLine, IPlotEvent, ITableEvent, ITask } from '../tokens';
import { PlotlyDiv } from '../components/PlotlyDiv';

/** Plots (rendered by plotly) and tables the task logged. */
export function PlotsTab(props: { task: ITask; tick: number }): JSX.Element {
  const { task, tick } = props;
  const [plots, setPlots] = React.useState<IPlotEvent[]>([]);
  const [tables, setTables] = React.useState<ITableEvent[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    Promise.all([getPlots(task.id), getTables(task.id)])
      .then(([p, t]) => {
        setPlots(p.items);
        setTables(t.items);
        setError(null);
      })
      .catch(reason => setError(String(reason.message ?? reason)));
  }, [task.id, tick]);
  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!plots.length && !tables.length) {
    return <div className="lt-empty">This experiment logged no plots or tables.</div>;
  }
  return (
    <div className="lt-plots">
      {plots.map(plot => (
        <FigureCard key={plot.seq} plot={plot} />
      ))}
      {tables.map(table => (
        <div key={table.seq} className="lt-card lt-table-card">
          <div className="lt-card-title">
            {table.metric} / {table.variant}{' '}
            <span className="lt-dim">iteration {table.iteration}</span>
          </div>
          <div className="lt-table-scroll">
            <table className="lt-table">
              <thead>
                <tr>
                  {table.columns.map(c => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {table.rows.slice(0, 500).map((row, i) => (
                  <tr key={i}>
                    {row.map((cell, j) => (
                      <td key={j}>{cell === null ? '' : String(cell)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
            {table.rows.length > 500 && (
              <div className="lt-dim">first 500 of {table.rows.length} rows</div>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}

function FigureCard(props: { plot: IPlotEvent }): JSX.Element {
  const { plot } = props;
  const data = React.useMemo(() => plot.figure.data ?? [], [plot.seq]);
  const layout = React.useMemo(
    () => ({ height: 360, ...themeFigure(plot.figure.layout) }),
    [plot.seq]
  );
  return (
    <div className="lt-card lt-figure" data-plot={`${plot.metric}/${plot.variant}`}>
      <div className="lt-card-title">
        {plot.metric} / {plot.variant} <span className="lt-dim">iteration {plot.iteration}</span>
      </div>
      <PlotlyDiv data={data} layout={layout} />
    </div>
  );
}

/** The console: the last lines, then new lines as they arrive while the task runs. */
export function ConsoleTab(props: { task: ITask; tick: number }): JSX.Element {
  const { task, tick } = props;
  const [lines, setLines] = React.useState<IConsoleLine[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const ref = React.useRef<HTMLPreElement>(null);
  const follow = React.useRef(true);

  React.useEffect(() => {
    getConsoleTail(task.id, 1000)
      .then(page => setLines(page.items))
      .catch(reason => setError(String(reason.message ?? reason)));
  }, [task.id]);

  React.useEffect(() => {
    if (tick === 0) {
      return;
    }
    const request = lines.length
      ? getConsoleAfter(task.id, lines[lines.length - 1].seq)
      : getConsoleTail(task.id, 1000);
    request
      .then(page => {
        if (page.items.length) {
          // Keep the view bounded: the console tab is a tail, not an archive.
          setLines(prev => {
            const seen = prev.length ? prev[prev.length - 1].seq : -Infinity;
            return prev.concat(page.items.filter(l => l.seq > seen)).slice(-5000);
          });
        }
      })
      .catch(reason => setError(String(reason.message ?? reason)));
  }, [tick]);

  React.useEffect(() => {
    const el = ref.current;
    if (el && follow.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [lines]);

  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!lines.length) {
    return <div className="lt-empty">No console output yet.</div>;
  }
  return (
    <pre
      ref={ref}
      className="lt-console"
      onScroll={event => {
        const el = event.target as HTMLPreElement;
        follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
      }}
    >
      {lines.map(line => (
        <span key={line.seq} className={line.stream === 'stderr' ? 'lt-stderr' : ''}>
          {line.text.endsWith('\n') ? line.text : line.text + '\n'}
        </span>
      ))}
    </pre>
  );
}

const TEXT_TYPES = /(json|csv|txt|text|yaml|yml|md|log|py|str|dict|list)$/i;
const IMAGE_TYPES = /(png|jpe?g|gif|svg|webp|image)$/i;

/** Artifacts: list, preview (text or image) and download, all through the proxy. */
export function ArtifactsTab(props: { task: ITask; tick: number }): JSX.Element {
  const { task, tick } = props;
  const [items, setItems] = React.useState<IArtifact[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [preview, setPreview] = React.useState<{ key: string; text?: string; image?: string }>();

  React.useEffect(() => {
    listArtifacts(task.id)
      .then(page => setItems(page.items))
      .catch(reason => setError(String(reason.message ?? reason)));
  }, [task.id, tick]);

  const show = async (artifact: IArtifact) => {
    const kind = `${artifact.type} ${artifact.filename}`;
    if (artifact.external || (artifact.size ?? 0) > 5_000_000) {
      setPreview({ key: artifact.key, text: artifact.preview || '(no preview)' });
      return;
    }
    if (IMAGE_TYPES.test(artifact.filename) || IMAGE_TYPES.test(artifact.type)) {
      const blob = await fetchArtifactBlob(task.id, artifact.key);
      setPreview({ key: artifact.key, image: URL.createObjectURL(blob) });
    } else if (TEXT_TYPES.test(kind)) {
      const blob = await fetchArtifactBlob(task.id, artifact.key);
      setPreview({ key: artifact.key, text: (await blob.text()).slice(0, 20000) });
    } else {
      setPreview({ key: artifact.key, text: artifact.preview || '(binary; use Download)' });
    }
  };
  const download = async (artifact: IArtifact) => {
    const blob = await fetchArtifactBlob(task.id, artifact.key);
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = artifact.filename || artifact.key;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  };

  if (error) {
    return <div className="lt-error-message">{error}</div>;
  }
  if (!items.length) {
    return <div className="lt-empty">This experiment has no artifacts.</div>;
  }
  return (
    <div className="lt-artifacts">
      <table className="lt-table">
        <thead>
          <tr>
            <th>key</th>
            <th>type</th>
            <th>size</th>
            <th>created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {items.map(a => (
            <tr key={a.key} data-artifact={a.key}>
              <td>{a.key}</td>
              <td>{a.type}</td>
              <td>{bytes(a.size)}</td>
              <td>{dateTime(a.created)}</td>
              <td>
                <button
                  className="lt-button"
                  onClick={() => void show(a).catch(e => setError(String(e.message ?? e)))}
                >
                  Preview
                </button>
                {!a.external && (
                  <button
                    className="lt-button"
                    onClick={() => void download(a).catch(e => setError(String(e.message ?? e)))}
                  >
                    Download
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {preview && (
        <div className="lt-card lt-preview">
          <div className="lt-card-title">{preview.key}</div>
          {preview.image ? (
            <img src={preview.image} alt={preview.key} className="lt-preview-image" />
          ) : (
            <pre className="lt-code">{preview.text}</pre>
          )}
        </div>
      )}
    </div>
  );
}

/** Each cell with its position among the code cells (0 for markdown and raw cells). */
function numberCodeCells<T extends { cell_type: string }>(cells: T[]): Array<[T, number]> {
  let n = 0;
  return cells.map(cell => [cell, cell.cell_type === 'code' ? ++n : 0]);
}

function cellSource(source: string | string[]): string {
  return Array.isArray(source) ? source.join('') : source;
}

/** The code snapshot: notebook cells, or repository, commit, entry point and diff. */
export function CodeTab(props: { task: ITask }): JSX.Element {
  const script = props.task.script;
  if (!script) {
    return <div className="lt-empty">Loading…</div>;
  }
  const notebook = script.notebook;
  return (
    <div className="lt-code-tab">
      <table className="lt-kv">
        <tbody>
          {script.notebook_path && (
            <tr>
              <th>notebook</th>
              <td>{script.notebook_path}</td>
            </tr>
          )}
          {script.repository && (
            <tr>
              <th>repository</th>
              <td>{script.repository}</td>
            </tr>
          )}
          {script.branch && (
            <tr>
              <th>branch</th>
              <td>{script.branch}</td>
            </tr>
          )}
          {script.commit && (
            <tr>
              <th>commit</th>
              <td>{script.commit}</td>
            </tr>
          )}
          {script.entry_point && (
            <tr>
              <th>entry point</th>
              <td>{script.entry_point}</td>
            </tr>
          )}
        </tbody>
      </table>
      {notebook && Array.isArray(notebook.cells) && (
        <div className="lt-cells">
          {numberCodeCells(notebook.cells).map(([cell, n], i) => (
            <div key={i} className={`lt-cell lt-cell-${cell.cell_type}`}>
              <div className="lt-cell-prompt">{n ? `[${n}]` : ''}</div>
              <pre className="lt-code">{cellSource(cell.source)}</pre>
            </div>
          ))}
        </div>
      )}
      {script.diff && (
        <>
          <h3>Uncommitted changes</h3>
          <pre className="lt-code lt-diff">
            {script.diff.split('\n').map((line, i) => (
              <span
                key={i}
                className={line.startsWith('+') ? 'lt-add' : line.startsWith('-') ? 'lt-del' : ''}
              >
                {line + '\n'}
              </span>
            ))}
          </pre>
        </>
      )}
      {!notebook && !script.diff && !script.entry_point && (
        <div className="lt-empty">No code snapshot was recorded for this experiment.</div>
      )}
      {script.requirements && (
        <details>
          <summary>
            Requirements ({script.requirements.split('\n').filter(Boolean).length} packages)
          </summary>
          <pre className="lt-code">{script.requirements}</pre>
        </details>
      )}
    </div>
  );
}
