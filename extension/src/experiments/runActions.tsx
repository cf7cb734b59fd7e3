/**
 * What each run action does once its runs are known: ask (JupyterLab dialogs), call the API,
 * report failures. Commands (commands.ts) decide which runs an action applies to; this module
 * never looks at the sidebar or the shell.
 *
 * Batch actions run per task and settle each one: a failure on one run never hides the others'
 * outcome, and every failure is reported with the run's label and the server's message.
 */
import * as React from 'react';
import { Dialog, InputDialog, Notification, showDialog } from '@jupyterlab/apputils';

import {
  cloneTask,
  createProject,
  deleteTask,
  enqueueTask,
  ITaskPatch,
  listAllProjects,
  listQueues,
  patchTask,
  taskAction
} from '../api';
import { runLabel, statusLabel } from '../format';
import { LabtrackError } from '../request';
import { IProject, ITask } from '../tokens';

/** What an action did, for the caller to refresh lists and views. */
export interface IActionOutcome {
  /** Runs whose fields changed (their open views re-read them). */
  changed: string[];
  /** Runs that no longer exist (their views close). */
  removed: string[];
  /** A run created by the action (a clone), to open. */
  created?: ITask;
  /** A project to show in the sidebar (one just created from the picker). */
  showProject?: IProject;
}

/** Statuses in which a run's process may still be running and can be asked to stop. */
export const ABORTABLE = new Set(['created', 'queued', 'in_progress']);
/** Statuses the server can put in a queue from. */
export const ENQUEUABLE = new Set(['created', 'stopped', 'failed']);
/** Statuses the server can publish from. */
export const PUBLISHABLE = new Set(['completed', 'stopped']);

function messageOf(error: unknown): string {
  return error instanceof LabtrackError || error instanceof Error ? error.message : String(error);
}

/** "3 experiments" / "digits-sgd #2 · 1a2b3c". */
function describe(tasks: ITask[]): string {
  return tasks.length === 1 ? runLabel(tasks[0]) : `${tasks.length} experiments`;
}

/**
 * Run `call` for every task (all at once; the browser queues them per host), then report the
 * failures in one notification. Returns the ids that succeeded.
 */
async function settle(
  verb: string,
  tasks: ITask[],
  call: (task: ITask) => Promise<unknown>
): Promise<string[]> {
  const results = await Promise.allSettled(tasks.map(call));
  const done: string[] = [];
  const failures: string[] = [];
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      done.push(tasks[i].id);
    } else {
      const message = messageOf(result.reason);
      failures.push(tasks.length === 1 ? message : `${runLabel(tasks[i])}: ${message}`);
    }
  });
  if (failures.length) {
    const head =
      tasks.length === 1
        ? `Could not ${verb} ${runLabel(tasks[0])}`
        : `Could not ${verb} ${failures.length} of ${tasks.length} experiments`;
    Notification.error(`${head}: ${failures.slice(0, 5).join('; ')}`, { autoClose: false });
  }
  return done;
}

/** The list of runs a confirmation names (the first twelve, then a count). */
function RunList(props: { tasks: ITask[] }): JSX.Element {
  const shown = props.tasks.slice(0, 12);
  const more = props.tasks.length - shown.length;
  return (
    <ul className="lt-dialog-runs">
      {shown.map(t => (
        <li key={t.id} data-task-id={t.id}>
          <span className="lt-dialog-run">{runLabel(t)}</span>{' '}
          <span className="lt-dim">
            {t.project_name} · {statusLabel(t.status)}
          </span>
        </li>
      ))}
      {more > 0 && <li className="lt-dim">… and {more} more</li>}
    </ul>
  );
}

async function confirm(
  title: string,
  body: JSX.Element,
  accept: string,
  warn: boolean
): Promise<boolean> {
  const result = await showDialog({
    title,
    body: <div className="lt-dialog-body">{body}</div>,
    buttons: [
      Dialog.cancelButton(),
      warn ? Dialog.warnButton({ label: accept }) : Dialog.okButton({ label: accept })
    ]
  });
  return result.button.accept;
}

const EMPTY: IActionOutcome = { changed: [], removed: [] };

export async function renameRun(task: ITask): Promise<IActionOutcome> {
  const result = await InputDialog.getText({
    title: `Rename ${runLabel(task)}`,
    label: 'New name',
    text: task.name,
    okLabel: 'Rename'
  });
  const name = (result.value ?? '').trim();
  if (!result.button.accept || !name || name === task.name) {
    return EMPTY;
  }
  return { changed: await settle('rename', [task], t => patchTask(t.id, { name })), removed: [] };
}

function splitTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map(t => t.trim())
        .filter(Boolean)
    )
  ];
}

/**
 * Edit tags. One run: its tag list. Several: the tags they all share; a shared tag removed
 * leaves every run, a new one joins every run, and each run's other tags stay.
 */
export async function editRunTags(tasks: ITask[]): Promise<IActionOutcome> {
  const shared = tasks[0].tags.filter(tag => tasks.every(t => t.tags.includes(tag)));
  const result = await InputDialog.getText({
    title: `Tags of ${describe(tasks)}`,
    label:
      tasks.length === 1
        ? 'Tags, comma separated'
        : 'Tags all of them share, comma separated (others each has stay)',
    text: shared.join(', '),
    placeholder: 'baseline, sweep-3',
    okLabel: 'Save'
  });
  if (!result.button.accept) {
    return EMPTY;
  }
  const wanted = splitTags(result.value ?? '');
  const removed = shared.filter(tag => !wanted.includes(tag));
  const patches = new Map<string, string[]>();
  for (const task of tasks) {
    const kept = task.tags.filter(tag => !removed.includes(tag));
    const next = [...kept, ...wanted.filter(tag => !kept.includes(tag))];
    if (next.join('\n') !== task.tags.join('\n')) {
      patches.set(task.id, next);
    }
  }
  const todo = tasks.filter(t => patches.has(t.id));
  return {
    changed: await settle('tag', todo, t => patchTask(t.id, { tags: patches.get(t.id) })),
    removed: []
  };
}

/** A project by name, created when it does not exist yet. */
async function projectNamed(name: string): Promise<IProject> {
  const known = (await listAllProjects()).find(p => p.name === name);
  return known ?? createProject(name);
}

/** Move runs to a project chosen from the list, or to a new one typed in. */
export async function moveRuns(tasks: ITask[]): Promise<IActionOutcome> {
  let projects: IProject[];
  try {
    projects = await listAllProjects();
  } catch (error) {
    Notification.error(`Could not list the projects: ${messageOf(error)}`, { autoClose: false });
    return EMPTY;
  }
  const from = new Set(tasks.map(t => t.project_id));
  const names = projects.filter(p => !(from.size === 1 && from.has(p.id))).map(p => p.name);
  const result = await InputDialog.getItem({
    title: `Move ${describe(tasks)} to project`,
    label: 'Project (a new name creates it)',
    items: names,
    editable: true,
    placeholder: 'team/vision',
    okLabel: 'Move'
  });
  const name = (result.value ?? '').trim();
  if (!result.button.accept || !name) {
    return EMPTY;
  }
  let target: IProject;
  try {
    target = await projectNamed(name);
  } catch (error) {
    Notification.error(`Could not create project ${name}: ${messageOf(error)}`, {
      autoClose: false
    });
    return EMPTY;
  }
  const todo = tasks.filter(t => t.project_id !== target.id);
  const changed = await settle('move', todo, t =>
    patchTask(t.id, { project_id: target.id })
  );
  return { changed, removed: [] };
}

/** Archive (`true`) or restore runs: reversible, so no question asked. */
export async function setRunsArchived(tasks: ITask[], archived: boolean): Promise<IActionOutcome> {
  const patch: ITaskPatch = { archived };
  const todo = tasks.filter(t => Boolean(t.archived) !== archived);
  return {
    changed: await settle(archived ? 'archive' : 'restore', todo, t => patchTask(t.id, patch)),
    removed: []
  };
}

/** Delete runs after a confirmation that names each one and what goes with it. */
export async function deleteRuns(tasks: ITask[]): Promise<IActionOutcome> {
  const running = tasks.filter(t => t.status === 'in_progress').length;
  const ok = await confirm(
    `Delete ${describe(tasks)}?`,
    <>
      <RunList tasks={tasks} />
      <p>
        {tasks.length === 1 ? 'Its' : 'Their'} scalars, console output, plots, tables and artifacts
        are deleted too. This cannot be undone.
      </p>
      {running > 0 && (
        <p className="lt-dialog-warning">
          {running} of them {running === 1 ? 'is' : 'are'} still running: the process keeps running
          but can no longer log anything.
        </p>
      )}
    </>,
    'Delete',
    true
  );
  if (!ok) {
    return EMPTY;
  }
  return { changed: [], removed: await settle('delete', tasks, t => deleteTask(t.id)) };
}

/**
 * Abort runs: a queued or created run stops at once; a running one is asked to stop (its
 * kernel or script sees the request on its next contact and ends `stopped`). Asking again
 * when it was already asked forces it to `stopped`, for a process that is gone.
 */
export async function abortRuns(tasks: ITask[]): Promise<IActionOutcome> {
  const todo = tasks.filter(t => ABORTABLE.has(t.status));
  const force = todo.every(t => t.stop_requested);
  const ok = await confirm(
    `${force ? 'Force stop' : 'Abort'} ${describe(todo)}?`,
    <>
      <RunList tasks={todo} />
      <p>
        {force
          ? 'They were already asked to stop. Forcing marks them stopped now, whether or not their process still runs.'
          : 'A running kernel or script sees the request within seconds and ends the run as stopped; a queued run leaves its queue.'}
      </p>
    </>,
    force ? 'Force Stop' : 'Abort',
    true
  );
  if (!ok) {
    return EMPTY;
  }
  const changed = await settle('abort', todo, t =>
    taskAction(t.id, 'stop', { reason: 'aborted from JupyterLab' })
  );
  const asked = todo.filter(t => changed.includes(t.id) && t.status === 'in_progress' && !force);
  if (asked.length) {
    Notification.info(
      `Asked ${describe(asked)} to stop: ${asked.length === 1 ? 'it ends' : 'they end'} at the next contact.`,
      { autoClose: 5000 }
    );
  }
  return { changed, removed: [] };
}

/** Put runs in a queue the user picks, for an agent to run (docs/api.md, queues). */
export async function enqueueRuns(tasks: ITask[]): Promise<IActionOutcome> {
  const todo = tasks.filter(t => ENQUEUABLE.has(t.status));
  let queues: string[];
  try {
    queues = (await listQueues()).map(q => q.name);
  } catch (error) {
    Notification.error(`Could not list the queues: ${messageOf(error)}`, { autoClose: false });
    return EMPTY;
  }
  const picked = await InputDialog.getItem({
    title: `Enqueue ${describe(todo)}`,
    label: 'Queue (an agent pulling it runs them)',
    items: queues,
    current: queues.includes('default') ? 'default' : queues[0],
    okLabel: 'Enqueue'
  });
  if (!picked.button.accept || !picked.value) {
    return EMPTY;
  }
  const queue = picked.value;
  const changed = await settle('enqueue', todo, t => enqueueTask(t.id, queue));
  if (changed.length) {
    Notification.success(`Enqueued ${describe(todo.filter(t => changed.includes(t.id)))} in ${queue}.`, {
      autoClose: 4000
    });
  }
  return { changed, removed: [] };
}

/** Publish finished runs (published runs are final: never reset or run again). */
export async function publishRuns(tasks: ITask[]): Promise<IActionOutcome> {
  const todo = tasks.filter(t => PUBLISHABLE.has(t.status));
  const ok = await confirm(
    `Publish ${describe(todo)}?`,
    <>
      <RunList tasks={todo} />
      <p>A published run is final: it can no longer be reset or run again.</p>
    </>,
    'Publish',
    false
  );
  if (!ok) {
    return EMPTY;
  }
  return { changed: await settle('publish', todo, t => taskAction(t.id, 'publish')), removed: [] };
}

/**
 * Clone runs into `created` drafts with the same code, parameters and configuration (one run:
 * the name is asked, and the new draft is returned to open).
 */
export async function cloneRuns(tasks: ITask[]): Promise<IActionOutcome> {
  if (tasks.length === 1) {
    const source = tasks[0];
    const result = await InputDialog.getText({
      title: `Clone ${runLabel(source)}`,
      label: 'Name of the new draft (same code, parameters and configuration)',
      text: source.name,
      okLabel: 'Clone'
    });
    const name = (result.value ?? '').trim();
    if (!result.button.accept || !name) {
      return EMPTY;
    }
    try {
      const created = await cloneTask(source.id, name);
      return { changed: [], removed: [], created };
    } catch (error) {
      Notification.error(`Could not clone ${runLabel(source)}: ${messageOf(error)}`, {
        autoClose: false
      });
      return EMPTY;
    }
  }
  const ok = await confirm(
    `Clone ${describe(tasks)}?`,
    <>
      <RunList tasks={tasks} />
      <p>
        Each gets a new draft (status created) with the same name, code, parameters and
        configuration.
      </p>
    </>,
    'Clone',
    false
  );
  if (!ok) {
    return EMPTY;
  }
  // The sources are reported as changed: the list re-reads and shows the new drafts.
  return { changed: await settle('clone', tasks, t => cloneTask(t.id)), removed: [] };
}

/** Ask for a name and create a project. */
export async function newProject(): Promise<IProject | null> {
  const result = await InputDialog.getText({
    title: 'New project',
    label: 'Name (use / for sub-projects, e.g. team/vision)',
    placeholder: 'team/vision',
    okLabel: 'Create'
  });
  const name = (result.value ?? '').trim();
  if (!result.button.accept || !name) {
    return null;
  }
  try {
    return await createProject(name);
  } catch (error) {
    Notification.error(`Could not create project ${name}: ${messageOf(error)}`, {
      autoClose: false
    });
    return null;
  }
}
