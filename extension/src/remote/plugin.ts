/**
 * The Run remotely plugin: a notebook toolbar item and palette commands that send the notebook in
 * front of the user to an agent's queue (POST /labtrack/notebooks/run-remotely), follow the
 * remote task, and open the executed notebook next to the original.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import type * as nbformat from '@jupyterlab/nbformat';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IDisposable } from '@lumino/disposable';

import { fetchArtifactBlob, getTask, listQueues, listWorkers } from '../api';
import { CommandIDs, IQueue, ITask, IWorker } from '../tokens';
import { EXECUTED_NOTEBOOK, messageOf, RemoteRun } from './model';
import { RemoteButton } from './RemoteButton';
import { createResultView } from './ResultView';
import { askRunChoice } from './RunDialog';

export namespace RemoteCommandIDs {
  export const runRemotely = 'labtrack:run-remotely';
  export const openResult = 'labtrack:open-remote-result';
}

/** Where the Run remotely item sits in the notebook toolbar (next to Track, at 10). */
const TOOLBAR_RANK = 11;

/** The notebook's tracked task (`metadata.labtrack.task_id`, see track.ts), if it still exists. */
async function trackedTask(panel: NotebookPanel): Promise<ITask | null> {
  const meta = panel.model?.getMetadata('labtrack') as { task_id?: string } | undefined;
  if (!meta?.task_id) {
    return null;
  }
  try {
    return await getTask(meta.task_id);
  } catch {
    return null; // deleted meanwhile: the run starts without its parameters
  }
}

class RemoteRuns {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly rendermime: IRenderMimeRegistry,
    private readonly languages: IEditorLanguageRegistry | null
  ) {}

  runFor(panel: NotebookPanel): RemoteRun {
    let run = this._runs.get(panel);
    if (!run) {
      run = new RemoteRun(() => panel.isVisible);
      this._runs.set(panel, run);
    }
    return run;
  }

  openTask(taskId: string): void {
    void this.app.commands.execute(CommandIDs.openTask, { id: taskId });
  }

  /** Save, ask for the queue and parameters, then create and enqueue the remote task. */
  async runRemotely(panel: NotebookPanel): Promise<string | undefined> {
    const run = this.runFor(panel);
    if (run.phase === 'sending') {
      return undefined;
    }
    const context = panel.context;
    let queues: IQueue[], workers: IWorker[], tracked: ITask | null;
    try {
      // What runs remotely is the saved file: save what is on screen first, as Track does.
      await context.save();
      [queues, workers, tracked] = await Promise.all([
        listQueues(),
        listWorkers().catch(() => [] as IWorker[]),
        trackedTask(panel)
      ]);
    } catch (error) {
      Notification.error(`Run remotely: ${messageOf(error)}`, { autoClose: 8000 });
      return undefined;
    }
    if (!queues.length) {
      Notification.error(
        'Run remotely: the tracking server has no queue. Start an agent on the remote machine ' +
          '(`labtrack agent --queue gpu`), then try again.',
        { autoClose: 8000 }
      );
      return undefined;
    }
    const choice = await askRunChoice({
      notebookName: context.path.split('/').pop() ?? context.path,
      queues,
      workers,
      tracked,
      queue: this._lastQueue.get(panel)
    });
    if (!choice) {
      return undefined;
    }
    this._lastQueue.set(panel, choice.queue);
    try {
      return await run.submit({
        path: context.path,
        queue: choice.queue,
        task_id: tracked?.id,
        parameters: Object.keys(choice.parameters).length ? choice.parameters : undefined
      });
    } catch (error) {
      Notification.error(`Run remotely failed: ${messageOf(error)}`, { autoClose: 10000 });
      return undefined;
    }
  }

  /** Fetch the executed notebook through the proxy and show it read-only beside the original. */
  async openResult(panel: NotebookPanel): Promise<void> {
    const run = this.runFor(panel);
    if (!run.resultReady) {
      return;
    }
    const id = `labtrack-remote-result-${run.taskId}`;
    const open = Array.from(this.app.shell.widgets('main')).find(w => w.id === id);
    if (open) {
      this.app.shell.activateById(id);
      return;
    }
    let notebook: nbformat.INotebookContent;
    try {
      const blob = await fetchArtifactBlob(run.taskId, EXECUTED_NOTEBOOK);
      notebook = JSON.parse(await blob.text()) as nbformat.INotebookContent;
    } catch (error) {
      Notification.error(`Could not open the executed notebook: ${messageOf(error)}`, {
        autoClose: 8000
      });
      return;
    }
    const view = createResultView({
      notebook,
      path: panel.context.path,
      taskId: run.taskId,
      workerName: run.workerName,
      rendermime: this.rendermime,
      languages: this.languages,
      openTask: taskId => this.openTask(taskId)
    });
    const beside = panel.isAttached ? { mode: 'split-right' as const, ref: panel.id } : undefined;
    this.app.shell.add(view, 'main', beside);
    this.app.shell.activateById(view.id);
  }

  private readonly _runs = new WeakMap<NotebookPanel, RemoteRun>();
  private readonly _lastQueue = new WeakMap<NotebookPanel, string>();
}

/** Adds the Run remotely item to every notebook's toolbar. */
class RemoteRunExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private readonly runs: RemoteRuns) {}

  createNew(panel: NotebookPanel): IDisposable {
    const run = this.runs.runFor(panel);
    const button = new RemoteButton(run, {
      run: () => void this.runs.runRemotely(panel),
      openTask: taskId => this.runs.openTask(taskId),
      openResult: () => void this.runs.openResult(panel)
    });
    panel.toolbar.insertItem(TOOLBAR_RANK, 'labtrackRunRemotely', button);
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose() {
        button.dispose();
        run.dispose();
        disposed = true;
      }
    };
  }
}

export const remotePlugin: JupyterFrontEndPlugin<void> = {
  id: 'labtrack:remote',
  description:
    'Run remotely: send the notebook to an agent queue, follow it, open the executed notebook.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ICommandPalette, INotebookTracker, IEditorLanguageRegistry],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    languages: IEditorLanguageRegistry | null
  ) => {
    const runs = new RemoteRuns(app, rendermime, languages);
    const current = () => notebooks?.currentWidget ?? null;
    app.commands.addCommand(RemoteCommandIDs.runRemotely, {
      label: 'labtrack: Run This Notebook Remotely…',
      caption: "Send the saved notebook, with its kernel's packages, to a queue an agent pulls",
      isEnabled: () => !!current(),
      execute: () => {
        const panel = current();
        return panel ? runs.runRemotely(panel) : undefined;
      }
    });
    app.commands.addCommand(RemoteCommandIDs.openResult, {
      label: 'labtrack: Open Remote Result',
      caption: "Open the notebook's last remote run, as the agent executed it (read-only)",
      isEnabled: () => {
        const panel = current();
        return !!panel && runs.runFor(panel).resultReady;
      },
      execute: () => {
        const panel = current();
        return panel ? runs.openResult(panel) : undefined;
      }
    });
    palette?.addItem({ command: RemoteCommandIDs.runRemotely, category: 'labtrack' });
    palette?.addItem({ command: RemoteCommandIDs.openResult, category: 'labtrack' });
    app.docRegistry.addWidgetExtension('Notebook', new RemoteRunExtension(runs));
  }
};
