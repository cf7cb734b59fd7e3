/**
 * The notebook toolbar's Run remotely item: the button, then the remote task's status (a link to
 * its task view) and, once the agent uploaded the executed notebook, "Open result".
 */
import { Widget } from '@lumino/widgets';

import { RemotePhase, RemoteRun } from './model';

export interface IRemoteButtonActions {
  run: () => void;
  openTask: (taskId: string) => void;
  openResult: () => void;
}

function statusText(run: RemoteRun): string {
  const labels: Record<RemotePhase, string> = {
    idle: '',
    sending: 'sending…',
    created: 'not queued',
    queued: `queued in ${run.queueName}`,
    running: run.workerName ? `running on ${run.workerName}` : 'running',
    completed: 'completed',
    failed: 'failed',
    stopped: 'stopped',
    error: 'not sent'
  };
  return labels[run.phase];
}

function statusTitle(run: RemoteRun): string {
  if (run.phase === 'error') {
    return run.message;
  }
  const task = run.taskId ? `Remote task ${run.taskId}` : 'Remote task';
  const reason = run.task?.status_reason ? ` (${run.task.status_reason})` : '';
  const problem = run.message ? `\n${run.message}` : '';
  return `${task}: ${statusText(run)}${reason}. Click to open its task view.${problem}`;
}

export class RemoteButton extends Widget {
  constructor(
    private readonly run: RemoteRun,
    private readonly actions: IRemoteButtonActions
  ) {
    super({ node: document.createElement('div') });
    this.addClass('lt-rr-widget');
    this._button = this.element('button', 'lt-rr-button', () => this.actions.run());
    this._button.textContent = '☁ Run remotely';
    this._button.title =
      'Run this notebook on a remote machine: pick a queue an agent pulls ' +
      "(and the notebook's parameters)";
    this._status = this.element('a', 'lt-rr-status', () => {
      if (this.run.taskId) {
        this.actions.openTask(this.run.taskId);
      }
    });
    this._result = this.element('button', 'lt-rr-open-result', () => this.actions.openResult());
    this._result.textContent = 'Open result';
    this._result.title = 'Open the executed notebook (read-only) next to this one';
    run.changed.connect(this.render, this);
    this.render();
  }

  dispose(): void {
    this.run.changed.disconnect(this.render, this);
    super.dispose();
  }

  private element<K extends 'a' | 'button'>(
    tag: K,
    className: string,
    onClick: () => void
  ): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    const button = 'jp-ToolbarButtonComponent jp-mod-minimal jp-Button';
    node.className = tag === 'button' ? `${button} ${className}` : className;
    node.addEventListener('click', event => {
      event.preventDefault();
      onClick();
    });
    this.node.appendChild(node);
    return node;
  }

  private render(): void {
    const run = this.run;
    this._button.disabled = run.phase === 'sending';
    this._button.dataset.phase = run.phase;
    const status = this._status;
    status.hidden = run.phase === 'idle';
    status.textContent = run.phase === 'error' ? '⚠ not sent' : `● ${statusText(run)}`;
    status.title = statusTitle(run);
    status.dataset.phase = run.phase;
    status.href = '#';
    if (run.taskId) {
      status.dataset.taskId = run.taskId;
    } else {
      delete status.dataset.taskId;
    }
    this._result.hidden = !run.resultReady;
  }

  private _button: HTMLButtonElement;
  private _status: HTMLAnchorElement;
  private _result: HTMLButtonElement;
}
