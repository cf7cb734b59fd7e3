/**
 * Track: a notebook toolbar button and command that snapshot the notebook into a labtrack task,
 * keep the newest task's id in the notebook metadata, arm the kernel, and refresh the snapshot
 * on every save.
 *
 * One run per execution: arming (`labtrack.sdk.notebook_run.track_notebook`) writes nothing; the
 * kernel starts a run at the first cell executed in a kernel session, and again at the next cell
 * after a run ended, always in a task that has not ended (a new one when needed). It announces
 * each run over the comm target below, and the notebook's metadata then names that task. The
 * kernel is armed again whenever it starts, restarts or the page reloads, so a tracked notebook
 * shows "Tracked" again without anything being written.
 */
import { Notification } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
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

/** What the kernel announces when a run of the notebook starts or is renamed. */
interface IRunAnnouncement {
  task_id: string;
  project_id: string | null;
  project_name: string;
  name: string;
  previous_task_id: string | null;
}

/** The comm target the kernel announces runs on (labtrack/sdk/notebook_run.py). */
const COMM_TARGET = 'labtrack.notebook_run';

/** The silent code that arms a kernel (the server extension's `attach_code` is the same line). */
export function armCode(taskId: string): string {
  return `import labtrack.sdk.notebook_run; labtrack.sdk.notebook_run.track_notebook('${taskId}')`;
}

type TrackState = 'untracked' | 'tracking' | 'tracked' | 'error';

/** Per-notebook state, shared by the toolbar button, the palette command and the kernel hooks. */
class TrackSession {
  state: TrackState = 'untracked';
  message = '';
  /** Called with the task id whenever the notebook's task changes (the sidebar reloads). */
  onTracked: (taskId: string) => void = () => undefined;
  readonly changed = new Signal<this, void>(this);

  constructor(readonly panel: NotebookPanel) {}

  get taskId(): string | undefined {
    return this.metadata.task_id;
  }

  get metadata(): ITrackMetadata {
    return (this.panel.model?.getMetadata('labtrack') as ITrackMetadata | undefined) ?? {};
  }

  setState(state: TrackState, message: string): void {
    this.state = state;
    this.message = message;
    this.changed.emit();
  }

  /** Point the metadata at `taskId`; true when it changed (the caller saves to keep it). */
  setTask(taskId: string, projectId: string | null | undefined): boolean {
    const meta = this.metadata;
    if (meta.task_id === taskId && (!projectId || meta.project_id === projectId)) {
      return false;
    }
    this.panel.model?.setMetadata('labtrack', {
      ...meta,
      task_id: taskId,
      project_id: projectId ?? meta.project_id
    });
    return true;
  }

  /** Arm the kernel with the notebook's newest task (idempotent in the kernel; writes nothing). */
  async arm(): Promise<void> {
    const taskId = this.taskId;
    if (!taskId) {
      return;
    }
    try {
      await runSilently(this.panel, armCode(taskId));
      if (this.state !== 'tracked') {
        this.setState('tracked', trackedMessage(taskId));
      }
    } catch (error) {
      this.setState('error', errorText(error));
    }
  }

  /** The kernel started a run (or renamed it): the metadata names it from now on. */
  announced(run: IRunAnnouncement): void {
    if (this.setTask(run.task_id, run.project_id)) {
      // Saving keeps the id in the file and snapshots the cells into the new run.
      void this.panel.context.save();
    }
    this.setState('tracked', trackedMessage(run.task_id, `${run.project_name}/${run.name}`));
    this.onTracked(run.task_id);
  }
}

function trackedMessage(taskId: string, where?: string): string {
  return (
    `Tracked${where ? ` in ${where}` : ''}: newest run task ${taskId} ` +
    '(each kernel session is a new run, and so is the next cell run after a run ended)'
  );
}

function errorText(error: unknown): string {
  return error instanceof LabtrackError || error instanceof Error ? error.message : String(error);
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
  listenForRuns(panel, kernel);
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

/** Hear the kernel's run announcements (registered before arming, so none is missed). */
function listenForRuns(panel: NotebookPanel, kernel: Kernel.IKernelConnection): void {
  kernel.registerCommTarget(COMM_TARGET, (_comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg) => {
    const run = msg.content.data as unknown as IRunAnnouncement;
    if (run && typeof run.task_id === 'string') {
      sessionFor(panel).announced(run);
    }
  });
}

/**
 * Track the notebook: save, snapshot on the server (reusing its task unless that has ended, else
 * making the notebook's next run), store the task id, arm the kernel. Returns the task id.
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
    if (session.setTask(result.task_id, result.project_id)) {
      await context.save(); // so reopening the notebook finds the same task
    }
    await runSilently(panel, armCode(result.task_id));
    session.setState(
      'tracked',
      trackedMessage(result.task_id, `${result.task.project_name}/${result.task.name}`)
    );
    onTracked?.(result.task_id);
    return result.task_id;
  } catch (error) {
    const message = errorText(error);
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
    const taskId = this.session.taskId;
    if (taskId) {
      this._button.dataset.taskId = taskId;
    } else {
      delete this._button.dataset.taskId;
    }
  }

  dispose(): void {
    this.session.changed.disconnect(this.update, this);
    super.dispose();
  }

  private _button: HTMLButtonElement;
}

/** Adds the Track button to every notebook, arms its kernels, and refreshes the snapshot on save. */
export class TrackExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(private readonly onTracked: (taskId: string) => void) {}

  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): IDisposable {
    const session = sessionFor(panel);
    session.onTracked = this.onTracked;
    const button = new TrackButton(session, () => void trackPanel(panel, this.onTracked));
    panel.toolbar.insertItem(10, 'labtrackTrack', button);
    const onSave = (_: unknown, state: DocumentRegistry.SaveState) => {
      const taskId = session.taskId;
      if (state === 'completed' && taskId && session.state === 'tracked') {
        // An ended run keeps its snapshot (the server answers updated=false).
        snapshotNotebook({ path: context.path, task_id: taskId }).catch(error =>
          session.setState('error', `Snapshot on save failed: ${error.message ?? error}`)
        );
      }
    };
    context.saveState.connect(onSave);
    // A new kernel (first start, another kernel, a reloaded page) is armed once connected; a
    // notebook without a task only listens, in case its kernel was armed by hand.
    const onKernel = () => {
      const kernel = panel.sessionContext.session?.kernel;
      if (kernel) {
        listenForRuns(panel, kernel);
      }
      void session.arm();
    };
    // A restart keeps the kernel connection but not the kernel's memory: arm the new process.
    // The request is sent after this status change has been handled (the connection drops what
    // was queued before that), ahead of any cell that "Restart and Run All" sends.
    const onStatus = (_: unknown, status: Kernel.Status) => {
      if (status === 'restarting' || status === 'autorestarting') {
        void Promise.resolve().then(() => session.arm());
      }
    };
    panel.sessionContext.kernelChanged.connect(onKernel);
    panel.sessionContext.statusChanged.connect(onStatus);
    void context.ready.then(() => {
      if (panel.sessionContext.session?.kernel) {
        onKernel();
      }
    });
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose() {
        context.saveState.disconnect(onSave);
        panel.sessionContext.kernelChanged.disconnect(onKernel);
        panel.sessionContext.statusChanged.disconnect(onStatus);
        button.dispose();
        disposed = true;
      }
    };
  }
}
