/**
 * Track: a notebook toolbar button and command that snapshot the notebook into a labtrack
 * task, remember the task id in the notebook metadata, attach the running kernel to that task,
 * and refresh the snapshot on every save.
 */
import { Notification } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { snapshotNotebook, trackNotebook } from './api';
import { LabtrackError } from './request';

/** What the extension keeps in `metadata.labtrack` of a tracked notebook. */
interface ITrackMetadata {
  task_id?: string;
  project_id?: string;
}

type TrackState = 'untracked' | 'tracking' | 'tracked' | 'error';

/** Per-notebook state, shared by the toolbar button and the palette command. */
class TrackSession {
  state: TrackState = 'untracked';
  message = '';
  attachCode = '';
  readonly changed = new Signal<this, void>(this);

  constructor(readonly panel: NotebookPanel) {
    if (this.taskId) {
      // Tracked in an earlier session: the task is known, but this kernel is not attached
      // until the user presses Track again (we never run code in a kernel unasked).
      this.message = `This notebook belongs to task ${this.taskId}. Track attaches the kernel to it again.`;
    }
  }

  get taskId(): string | undefined {
    const meta = this.panel.model?.getMetadata('labtrack') as ITrackMetadata | undefined;
    return meta?.task_id;
  }

  setState(state: TrackState, message: string): void {
    this.state = state;
    this.message = message;
    this.changed.emit();
  }
}

const sessions = new WeakMap<NotebookPanel, TrackSession>();

function sessionFor(panel: NotebookPanel): TrackSession {
  let session = sessions.get(panel);
  if (!session) {
    session = new TrackSession(panel);
    sessions.set(panel, session);
  }
  return session;
}

/** Run `code` silently in the notebook's kernel; rejects with the kernel's error text. */
async function runSilently(panel: NotebookPanel, code: string): Promise<void> {
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    throw new Error('The notebook has no running kernel: start one, then Track again.');
  }
  const future = kernel.requestExecute({ code, silent: true, store_history: false });
  let failure = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'error') {
      const content = msg.content as { ename?: string; evalue?: string };
      failure = `${content.ename}: ${content.evalue}`;
    }
  };
  const reply = await future.done;
  if (reply.content.status !== 'ok' || failure) {
    throw new Error(`The kernel could not attach to labtrack: ${failure || reply.content.status}`);
  }
}

/**
 * Track the notebook: save, snapshot on the server (creating or reusing the task), store the
 * task id, attach the kernel. Returns the task id.
 */
export async function trackPanel(
  panel: NotebookPanel,
  onTracked?: (taskId: string) => void
): Promise<string | undefined> {
  const session = sessionFor(panel);
  const context = panel.context;
  session.setState('tracking', 'Saving and snapshotting the notebook…');
  try {
    await context.save();
    const result = await trackNotebook({ path: context.path, task_id: session.taskId });
    const meta = (panel.model?.getMetadata('labtrack') as ITrackMetadata | undefined) ?? {};
    if (meta.task_id !== result.task_id) {
      panel.model?.setMetadata('labtrack', {
        ...meta,
        task_id: result.task_id,
        project_id: result.project_id
      });
      // Persist the id so reopening the notebook finds the same task.
      await context.save();
    }
    session.attachCode = result.attach_code;
    await runSilently(panel, result.attach_code);
    session.setState(
      'tracked',
      `Tracked as task ${result.task_id} (${result.task.project_name}). The kernel logs to it.`
    );
    onTracked?.(result.task_id);
    return result.task_id;
  } catch (error) {
    const message =
      error instanceof LabtrackError || error instanceof Error ? error.message : String(error);
    session.setState('error', message);
    Notification.error(`labtrack Track failed: ${message}`, { autoClose: 8000 });
    return undefined;
  }
}

/** The toolbar button: shows untracked / tracking / tracked / error. */
class TrackButton extends Widget {
  constructor(
    private readonly session: TrackSession,
    private readonly onClick: () => void
  ) {
    super({ node: document.createElement('div') });
    this.addClass('lt-track-widget');
    const button = document.createElement('button');
    button.className = 'jp-ToolbarButtonComponent jp-mod-minimal jp-Button lt-track-button';
    button.addEventListener('click', () => this.onClick());
    this.node.appendChild(button);
    this._button = button;
    session.changed.connect(this.update, this);
    this.update();
  }

  protected onUpdateRequest(): void {
    this.render();
  }

  update(): void {
    this.render();
  }

  private render(): void {
    const { state, message } = this.session;
    const labels: Record<TrackState, string> = {
      untracked: '◎ Track',
      tracking: '◌ Tracking…',
      tracked: '● Tracked',
      error: '⚠ Track'
    };
    this._button.textContent = labels[state];
    this._button.title =
      message || 'Track this notebook with labtrack (snapshot + attach the kernel)';
    this._button.dataset.state = state;
    this._button.disabled = state === 'tracking';
    this._button.classList.toggle('lt-tracked', state === 'tracked');
  }

  dispose(): void {
    this.session.changed.disconnect(this.update, this);
    super.dispose();
  }

  private _button: HTMLButtonElement;
}

/** Adds the Track button to every notebook and refreshes the snapshot on save. */
export class TrackExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(private readonly onTracked: (taskId: string) => void) {}

  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): IDisposable {
    const session = sessionFor(panel);
    const button = new TrackButton(session, () => void trackPanel(panel, this.onTracked));
    panel.toolbar.insertItem(10, 'labtrackTrack', button);
    const onSave = (_: unknown, state: DocumentRegistry.SaveState) => {
      const taskId = session.taskId;
      if (state === 'completed' && taskId && session.state === 'tracked') {
        snapshotNotebook({ path: context.path, task_id: taskId }).catch(error =>
          session.setState('error', `Snapshot on save failed: ${error.message ?? error}`)
        );
      }
    };
    context.saveState.connect(onSave);
    // A restarted kernel has forgotten the task: attach it again.
    const onKernel = () => {
      if (session.state === 'tracked' && session.attachCode) {
        runSilently(panel, session.attachCode).catch(error =>
          session.setState('error', String(error.message ?? error))
        );
      }
    };
    panel.sessionContext.kernelChanged.connect(onKernel);
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose() {
        context.saveState.disconnect(onSave);
        panel.sessionContext.kernelChanged.disconnect(onKernel);
        button.dispose();
        disposed = true;
      }
    };
  }
}
