/**
 * "Open result": the executed notebook the agent uploaded, read-only, next to the original.
 *
 * It is drawn with JupyterLab's own renderers, not opened as a notebook document: code as
 * highlighted text, markdown and every output through the app's rendermime (`OutputArea`, so
 * images, HTML, plotly and errors look as in the notebook). Nothing is written to the Jupyter
 * root, no kernel starts, and there is no editor, so the view cannot be edited or saved. Outputs
 * come from another machine's run, so they are untrusted: HTML is sanitized and no script runs,
 * as for any notebook that was not trusted here.
 */
import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import * as nbformat from '@jupyterlab/nbformat';
import { OutputArea, OutputAreaModel } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { shortId } from '../format';

export interface IResultViewOptions {
  notebook: nbformat.INotebookContent;
  /** The original notebook's path (the view's title names it). */
  path: string;
  taskId: string;
  workerName: string;
  rendermime: IRenderMimeRegistry;
  languages: IEditorLanguageRegistry | null;
  openTask: (taskId: string) => void;
}

function sourceText(source: nbformat.MultilineString): string {
  return Array.isArray(source) ? source.join('') : source;
}

function prompt(text: string): HTMLElement {
  const node = document.createElement('div');
  node.className = 'lt-rr-prompt jp-InputPrompt';
  node.textContent = text;
  return node;
}

/** A code cell's input: its prompt and the source, highlighted like the editor would. */
function codeInput(
  cell: nbformat.ICodeCell,
  language: string,
  options: IResultViewOptions
): Widget {
  const widget = new Widget();
  widget.addClass('lt-rr-input');
  const count = cell.execution_count;
  widget.node.appendChild(prompt(`[${count ?? ' '}]:`));
  const pre = document.createElement('pre');
  pre.className = 'lt-rr-code cm-s-jupyter';
  const code = sourceText(cell.source);
  pre.textContent = code;
  widget.node.appendChild(pre);
  const registry = options.languages;
  if (registry) {
    // highlight() appends the styled code: it replaces the plain text once the language loaded.
    void registry
      .getLanguage(language)
      .then(spec => {
        if (spec) {
          pre.textContent = '';
          return registry.highlight(code, spec, pre);
        }
      })
      .catch(() => {
        pre.textContent = code; // plain text is still readable
      });
  }
  return widget;
}

function markdownCell(cell: nbformat.IMarkdownCell, rendermime: IRenderMimeRegistry): Widget {
  const renderer = rendermime.createRenderer('text/markdown');
  renderer.addClass('lt-rr-markdown');
  void renderer.renderModel(
    new MimeModel({ data: { 'text/markdown': sourceText(cell.source) }, trusted: false })
  );
  return renderer;
}

function outputs(cell: nbformat.ICodeCell, rendermime: IRenderMimeRegistry): Widget {
  const model = new OutputAreaModel({ values: cell.outputs, trusted: false });
  const area = new OutputArea({ model, rendermime });
  area.addClass('lt-rr-outputs');
  return area;
}

/** The executed notebook's cells, rendered read-only. */
function renderCells(options: IResultViewOptions): Panel {
  const content = new Panel();
  content.addClass('lt-rr-result');
  const { notebook, rendermime } = options;
  const banner = new Widget();
  banner.addClass('lt-rr-banner');
  banner.node.textContent =
    `Read-only: ${options.path} as the agent` +
    (options.workerName ? ` on ${options.workerName}` : '') +
    ` executed it (remote task ${shortId(options.taskId)}, artifact executed_notebook).`;
  content.addWidget(banner);
  const language =
    (notebook.metadata?.language_info as { name?: string } | undefined)?.name ??
    (notebook.metadata?.kernelspec as { language?: string } | undefined)?.language ??
    'python';
  for (const cell of notebook.cells ?? []) {
    const box = new Panel();
    box.addClass('lt-rr-cell');
    box.node.dataset.cellType = cell.cell_type;
    if (nbformat.isCode(cell)) {
      box.addWidget(codeInput(cell, language, options));
      if (cell.outputs?.length) {
        box.addWidget(outputs(cell, rendermime));
      }
    } else if (nbformat.isMarkdown(cell)) {
      box.addWidget(markdownCell(cell, rendermime));
    } else {
      const raw = new Widget({ node: document.createElement('pre') });
      raw.addClass('lt-rr-raw');
      raw.node.textContent = sourceText(cell.source);
      box.addWidget(raw);
    }
    content.addWidget(box);
  }
  return content;
}

/** A main-area widget showing the executed notebook, with a way back to its task. */
export function createResultView(options: IResultViewOptions): MainAreaWidget<Panel> {
  const content = renderCells(options);
  const view = new MainAreaWidget({ content });
  const name = options.path.split('/').pop() ?? options.path;
  view.id = `labtrack-remote-result-${options.taskId}`;
  view.addClass('lt-rr-result-view');
  view.title.label = `${name} (remote ${shortId(options.taskId)})`;
  view.title.caption =
    `Executed ${options.path} from remote task ${options.taskId}` +
    (options.workerName ? ` on ${options.workerName}` : '') +
    ' (read-only)';
  view.title.closable = true;
  view.toolbar.addItem(
    'labtrackOpenTask',
    new ToolbarButton({
      label: 'Open task',
      className: 'lt-rr-result-task',
      tooltip: 'Open the remote task: console, scalars, plots, artifacts',
      onClick: () => options.openTask(options.taskId)
    })
  );
  return view;
}
