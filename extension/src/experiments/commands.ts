/**
 * The run-action commands: rename, tags, move, clone, abort, publish, archive / restore,
 * delete, plus creating a project and the archived filter.
 *
 * One command per action serves every place it is offered: a row's context menu (the
 * right-clicked row, or the whole selection when that row is in it), the task view's and the
 * selection's Actions menus (`{"ids": [...]}`), and the palette (the sidebar's selection, else
 * the task view in front). A command is enabled when one of its runs allows the action; it then
 * acts on the runs that do (publishing a mixed selection publishes the finished ones).
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Menu } from '@lumino/widgets';

import { getTasksByIds } from '../api';
import { ExperimentsModel } from './model';
import {
  ABORTABLE,
  ENQUEUABLE,
  IActionOutcome,
  PUBLISHABLE,
  abortRuns,
  cloneRuns,
  deleteRuns,
  editRunTags,
  enqueueRuns,
  moveRuns,
  newProject,
  publishRuns,
  renameRun,
  setRunsArchived
} from './runActions';
import { CommandIDs, ITask, RUN_ACTIONS } from '../tokens';

/** What the commands need from the plugin. */
export interface IRunCommandsHost {
  app: JupyterFrontEnd;
  model: ExperimentsModel;
  /** The task shown by the main-area task view in front, if one is. */
  currentTaskId(): string | null;
  /** The task an open task view has loaded (for runs the sidebar has not). */
  viewedTask(id: string): ITask | undefined;
  /** After an action: refresh the list and the open views, open what it created. */
  afterAction(outcome: IActionOutcome): void;
}

interface IRunAction {
  id: string;
  /** Menu label; the palette's is `labtrack: <palette>`. */
  label: string;
  palette: string;
  caption: string;
  applies(task: ITask): boolean;
  /** Needs exactly one run. */
  single?: boolean;
  /** Hidden from menus unless one of the runs allows it (archive vs restore, …). */
  onlyWhenApplicable?: boolean;
  run(tasks: ITask[]): Promise<IActionOutcome>;
}

const ACTIONS: IRunAction[] = [
  {
    id: CommandIDs.renameTask,
    label: 'Rename…',
    palette: 'Rename Experiment…',
    caption: 'Give the run a new name',
    applies: () => true,
    single: true,
    run: tasks => renameRun(tasks[0])
  },
  {
    id: CommandIDs.editTags,
    label: 'Edit Tags…',
    palette: 'Edit Experiment Tags…',
    caption: 'Add or remove tags',
    applies: () => true,
    run: editRunTags
  },
  {
    id: CommandIDs.moveTasks,
    label: 'Move to Project…',
    palette: 'Move Experiments to Project…',
    caption: 'Move the runs to another (or a new) project',
    applies: () => true,
    run: moveRuns
  },
  {
    id: CommandIDs.cloneTasks,
    label: 'Clone…',
    palette: 'Clone Experiment…',
    caption: 'A new draft (created) with the same code, parameters and configuration',
    applies: () => true,
    run: cloneRuns
  },
  {
    id: CommandIDs.enqueueTasks,
    label: 'Enqueue…',
    palette: 'Enqueue Experiments…',
    caption: 'Put the runs in a queue for an agent to run (created, stopped or failed runs)',
    applies: task => ENQUEUABLE.has(task.status),
    onlyWhenApplicable: true,
    run: enqueueRuns
  },
  {
    id: CommandIDs.abortTasks,
    label: 'Abort…',
    palette: 'Abort Experiments…',
    caption: 'Stop the running process (it ends stopped); a queued run leaves its queue',
    applies: task => ABORTABLE.has(task.status),
    onlyWhenApplicable: true,
    run: abortRuns
  },
  {
    id: CommandIDs.publishTasks,
    label: 'Publish…',
    palette: 'Publish Experiments…',
    caption: 'Mark finished runs as final',
    applies: task => PUBLISHABLE.has(task.status),
    onlyWhenApplicable: true,
    run: publishRuns
  },
  {
    id: CommandIDs.archiveTasks,
    label: 'Archive',
    palette: 'Archive Experiments',
    caption: 'Hide the runs from the list (the "archived" filter shows them)',
    applies: task => !task.archived,
    onlyWhenApplicable: true,
    run: tasks => setRunsArchived(tasks, true)
  },
  {
    id: CommandIDs.restoreTasks,
    label: 'Restore',
    palette: 'Restore Archived Experiments',
    caption: 'Bring archived runs back to the list',
    applies: task => !!task.archived,
    onlyWhenApplicable: true,
    run: tasks => setRunsArchived(tasks, false)
  },
  {
    id: CommandIDs.deleteTasks,
    label: 'Delete…',
    palette: 'Delete Experiments…',
    caption: 'Delete the runs with their events and artifacts',
    applies: () => true,
    run: deleteRuns
  }
];

/** Elements that name a run for the context menu: sidebar rows and task views. */
const RUN_SELECTORS = ['.lt-task-row', '.lt-task-view .lt-task-header'];

export function addRunCommands(host: IRunCommandsHost, palette: ICommandPalette | null): void {
  const { app, model } = host;
  const { commands } = app;

  /** The ids an invocation means (see the module doc for the order). */
  const targetIds = (args: ReadonlyPartialJSONObject): string[] => {
    if (Array.isArray(args.ids)) {
      return args.ids.map(String);
    }
    if (args.fromContextMenu) {
      const node = app.contextMenuHitTest(
        n =>
          !!n.dataset.taskId &&
          (n.classList.contains('lt-task-row') || n.classList.contains('lt-task-view'))
      );
      const id = node?.dataset.taskId;
      if (!node || !id) {
        return [];
      }
      const inSelection = node.classList.contains('lt-task-row') && model.selected.has(id);
      return inSelection ? [...model.selected] : [id];
    }
    if (model.selected.size) {
      return [...model.selected];
    }
    const current = host.currentTaskId();
    return current ? [current] : [];
  };
  const known = (ids: string[]): ITask[] =>
    ids.map(id => model.taskById(id) ?? host.viewedTask(id)).filter((t): t is ITask => !!t);
  /** The runs as the server has them now: a list loaded earlier may be stale (a queued run
   * has started since, or was already asked to stop), and the actions go by status. The
   * loaded copies stand in for those the server does not answer. */
  const load = async (ids: string[]): Promise<ITask[]> => {
    let fetched: ITask[] = [];
    try {
      fetched = (await getTasksByIds(ids)).items;
    } catch {
      // The action itself then says what is wrong with the server.
    }
    const byId = new Map([...known(ids), ...fetched].map(t => [t.id, t]));
    return ids.map(id => byId.get(id)).filter((t): t is ITask => !!t);
  };

  for (const action of ACTIONS) {
    /** How many of the runs allow it; null when some are not loaded (assume they might). */
    const applicable = (args: ReadonlyPartialJSONObject): number | null => {
      const ids = targetIds(args);
      const tasks = known(ids);
      const count = tasks.filter(action.applies).length;
      return tasks.length < ids.length ? null : count;
    };
    commands.addCommand(action.id, {
      label: args => {
        const count = applicable(args) ?? targetIds(args).length;
        let text = action.label;
        if (action.id === CommandIDs.abortTasks) {
          const tasks = known(targetIds(args)).filter(action.applies);
          text = tasks.length && tasks.every(t => t.stop_requested) ? 'Force Stop…' : text;
        }
        const suffix = count > 1 && !action.single ? ` (${count})` : '';
        return args.palette ? `labtrack: ${action.palette}${suffix}` : `${text}${suffix}`;
      },
      caption: action.caption,
      isEnabled: args => {
        const ids = targetIds(args);
        if (!ids.length || (action.single && ids.length !== 1)) {
          return false;
        }
        const count = applicable(args);
        return count === null || count > 0;
      },
      isVisible: args => !action.onlyWhenApplicable || applicable(args) !== 0,
      execute: async args => {
        const tasks = (await load(targetIds(args))).filter(action.applies);
        if (!tasks.length || (action.single && tasks.length !== 1)) {
          return;
        }
        host.afterAction(await action.run(tasks));
      }
    });
  }

  commands.addCommand(CommandIDs.createProject, {
    label: args => (args.palette ? 'labtrack: New Project…' : 'New Project…'),
    caption: 'Create a project and show it in the sidebar',
    execute: async () => {
      const project = await newProject();
      if (project) {
        host.afterAction({ changed: [], removed: [], showProject: project });
      }
    }
  });
  commands.addCommand(CommandIDs.toggleArchived, {
    label: args => (args.palette ? 'labtrack: Show Archived Experiments' : 'Archived'),
    caption: 'List the archived runs instead of the others',
    isToggled: () => model.query.archived,
    execute: () => model.setQuery({ archived: !model.query.archived })
  });
  model.selectionChanged.connect(() => {
    for (const action of ACTIONS) {
      commands.notifyCommandChanged(action.id);
    }
  });
  model.changed.connect(() => commands.notifyCommandChanged(CommandIDs.toggleArchived));

  // The context menu of a row (or of a task view's header).
  for (const selector of RUN_SELECTORS) {
    let rank = 10;
    for (const id of RUN_ACTIONS) {
      app.contextMenu.addItem(
        id
          ? { command: id, selector, rank: rank++, args: { fromContextMenu: true } }
          : { type: 'separator', selector, rank: rank++ }
      );
    }
  }
  if (palette) {
    for (const command of [
      ...ACTIONS.map(a => a.id),
      CommandIDs.createProject,
      CommandIDs.toggleArchived
    ]) {
      palette.addItem({ command, category: 'labtrack', args: { palette: true } });
    }
  }
}

/** Open the run actions for `ids` as a menu at a point (the Actions buttons). */
export function openRunMenu(
  commands: JupyterFrontEnd['commands'],
  ids: string[], x: number, y: number): void {
  const menu = new Menu({ commands });
  menu.addClass('lt-run-menu');
  for (const id of RUN_ACTIONS) {
    menu.addItem(id ? { command: id, args: { ids } } : { type: 'separator' });
  }
  menu.aboutToClose.connect(() => {
    // Dispose after the triggered command has read its item.
    window.setTimeout(() => menu.dispose(), 0);
  });
  menu.open(x, y);
}
