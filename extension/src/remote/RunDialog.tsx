/**
 * The Run remotely dialog: pick a queue (with how many tasks wait in it and which agents pull it)
 * and, when the notebook is tracked and connected parameters, change their values for this run.
 */
import * as React from 'react';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { IQueue, ITask, IWorker } from '../tokens';

/** What the user chose: the queue, and the parameters whose value they changed. */
export interface IRunChoice {
  queue: string;
  parameters: Record<string, string>;
}

export interface IRunDialogOptions {
  notebookName: string;
  queues: IQueue[];
  workers: IWorker[];
  /** The notebook's tracked task, when it has one (its parameters can be edited). */
  tracked: ITask | null;
  /** Preselected queue (the one used last for this notebook). */
  queue?: string;
}

function queueLine(queue: IQueue, names: Map<string, string>): string {
  const agents = queue.workers.length
    ? `pulled by ${queue.workers.map(id => names.get(id) ?? id.slice(0, 8)).join(', ')}`
    : 'no agent';
  return `${queue.name} · ${queue.pending} waiting · ${agents}`;
}

/** Every parameter of the tracked task as `[Section/name, value, type]`, in stored order. */
function parameterRows(task: ITask | null): Array<[string, string, string]> {
  const rows: Array<[string, string, string]> = [];
  for (const [section, values] of Object.entries(task?.hyperparams ?? {})) {
    for (const [name, param] of Object.entries(values)) {
      rows.push([`${section}/${name}`, param.value, param.type]);
    }
  }
  return rows;
}

function DialogBody(props: {
  options: IRunDialogOptions;
  choice: IRunChoice;
}): JSX.Element {
  const { options, choice } = props;
  const [queue, setQueue] = React.useState(choice.queue);
  const [edits, setEdits] = React.useState<Record<string, string>>({});
  const names = new Map(options.workers.map(w => [w.id, w.name]));
  const selected = options.queues.find(q => q.name === queue);
  const rows = parameterRows(options.tracked);
  const edit = (key: string, value: string, original: string) => {
    const next = { ...edits, [key]: value };
    if (value === original) {
      delete next[key];
    }
    setEdits(next);
    choice.parameters = next;
  };
  return (
    <div className="lt-rr-dialog">
      <label className="lt-rr-field">
        <span>Queue</span>
        <select
          className="lt-rr-queue"
          value={queue}
          onChange={e => {
            setQueue(e.target.value);
            choice.queue = e.target.value;
          }}
        >
          {options.queues.map(q => (
            <option key={q.id} value={q.name} data-pending={q.pending}>
              {queueLine(q, names)}
            </option>
          ))}
        </select>
      </label>
      {selected && !selected.workers.length && (
        <p className="lt-rr-warn">
          No agent pulls <b>{selected.name}</b> right now: the run waits until one starts on the
          remote machine (<code>labtrack agent --queue {selected.name}</code>).
        </p>
      )}
      {rows.length > 0 && (
        <div className="lt-rr-params">
          <div className="lt-rr-params-title">
            Parameters (the notebook's connected values; an agent sets them after the cell
            tagged{' '}
            <code>parameters</code>)
          </div>
          <table>
            <tbody>
              {rows.map(([key, value, type]) => (
                <tr key={key} data-param={key}>
                  <td className="lt-rr-param-name">{key}</td>
                  <td>
                    <input
                      className={`lt-rr-param-value${key in edits ? ' lt-rr-edited' : ''}`}
                      value={edits[key] ?? value}
                      aria-label={key}
                      onChange={e => edit(key, e.target.value, value)}
                    />
                  </td>
                  <td className="lt-rr-param-type">{type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="lt-rr-note">
        The saved notebook and its kernel's package list go into a new task; the button then shows
        where it runs, and <i>Open result</i> shows the executed notebook.
      </p>
    </div>
  );
}

class RunDialogBody extends ReactWidget implements Dialog.IBodyWidget<IRunChoice> {
  constructor(private readonly options: IRunDialogOptions) {
    super();
    const names = options.queues.map(q => q.name);
    const preferred = [options.queue, 'default'].find(name => name && names.includes(name));
    this.choice = { queue: preferred ?? names[0], parameters: {} };
  }

  getValue(): IRunChoice {
    return this.choice;
  }

  protected render(): JSX.Element {
    return <DialogBody options={this.options} choice={this.choice} />;
  }

  private readonly choice: IRunChoice;
}

/** Ask for the queue and parameters; null when cancelled. */
export async function askRunChoice(options: IRunDialogOptions): Promise<IRunChoice | null> {
  const result = await showDialog({
    title: `Run remotely: ${options.notebookName}`,
    body: new RunDialogBody(options),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run remotely' })],
    focusNodeSelector: '.lt-rr-queue'
  });
  return result.button.accept && result.value ? result.value : null;
}
