/**
 * The cheap live refresh of the experiment list: merge the tasks the server reports as changed
 * since a cursor into the loaded rows, without re-reading the rows that did not change.
 */
import { ITaskQuery } from '../api';
import { metricStat } from '../format';
import { ITask } from '../tokens';

/**
 * How far behind the newest `last_update` seen the next poll starts. Two writers can stamp
 * their rows in one order and commit in the other (or run on replicas whose clocks differ a
 * little), so a row may become visible with a stamp just below one already seen; asking again
 * for that margin (and de-duplicating by id) catches it.
 */
export const CURSOR_MARGIN_MS = 2000;

/** The later of two server `last_update` stamps (same ISO format: text order is time order). */
export function newestStamp(a: string | null, b: string | null | undefined): string | null {
  if (!b) {
    return a;
  }
  return a === null || b > a ? b : a;
}

/** The newest `last_update` among `tasks` (null for none). */
export function newestOf(tasks: ITask[]): string | null {
  let newest: string | null = null;
  for (const task of tasks) {
    newest = newestStamp(newest, task.last_update);
  }
  return newest;
}

/**
 * The `updated_after` value for a cursor: the server's own stamp less the margin. (Date keeps
 * milliseconds, so the server's microseconds are cut off: the value only ever moves earlier,
 * and an equal stamp is included because the server compares with `>=`.)
 */
export function updatedAfterParam(cursor: string | null): string | null {
  if (cursor === null) {
    return null;
  }
  const ms = Date.parse(cursor);
  return Number.isNaN(ms) ? cursor : new Date(ms - CURSOR_MARGIN_MS).toISOString();
}

/** Whether a task passes the list's status, tag and search filters (as the server applies them). */
export function matchesQuery(task: ITask, query: ITaskQuery): boolean {
  if (Boolean(task.archived) !== Boolean(query.archived)) {
    return false;
  }
  if (query.statuses.length && !query.statuses.includes(task.status)) {
    return false;
  }
  if (!query.tags.every(tag => task.tags.includes(tag))) {
    return false;
  }
  const search = query.search.trim().toLowerCase();
  return !search || task.name.toLowerCase().includes(search);
}

/** Sorts whose order the browser can reproduce exactly: by a server time stamp, then id. */
const LOCAL_SORT_KEYS = new Set(['created', 'last_update']);

function splitSort(sort: string): { key: string; descending: boolean } {
  const descending = sort.startsWith('-');
  return { key: descending ? sort.slice(1) : sort, descending };
}

/** The value a task is sorted by on the server (for sorts the browser does not reorder). */
export function sortValue(task: ITask, sort: string): unknown {
  const { key } = splitSort(sort);
  if (key.startsWith('metric:')) {
    return metricStat(task, key.slice('metric:'.length));
  }
  return (task as unknown as Record<string, unknown>)[key] ?? null;
}

function compareLocal(a: ITask, b: ITask, sort: string): number {
  const { key, descending } = splitSort(sort);
  const av = String((a as unknown as Record<string, unknown>)[key] ?? '');
  const bv = String((b as unknown as Record<string, unknown>)[key] ?? '');
  const order = av < bv ? -1 : av > bv ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return descending ? -order : order;
}

/** Whether a changed row differs from the loaded one in anything the sidebar shows. */
function differs(before: ITask, after: ITask): boolean {
  return (
    before.last_update !== after.last_update ||
    before.status !== after.status ||
    before.name !== after.name ||
    before.last_iteration !== after.last_iteration ||
    before.tags.join(',') !== after.tags.join(',')
  );
}

/** What merging changed rows did to the list. */
export interface IMergeResult {
  /** The new list (the same array when nothing changed). */
  tasks: ITask[];
  /** Whether anything the sidebar draws changed. */
  changed: boolean;
  /** The order can only be right after re-reading the loaded span from the server. */
  needsReload: boolean;
}

/**
 * Merge `changes` (tasks updated since the cursor) into the loaded `tasks`.
 *
 * Rows are updated in place; rows that stop matching the filters leave; new or moved rows go
 * to their sorted position when the sort is by a time stamp (a row that sorts past the loaded
 * span is left for paging when `hasMore`). For any other sort a new row, or a row whose sort
 * value changed, asks for a reload instead of guessing the server's order.
 */
export function mergeChanges(
  tasks: ITask[],
  changes: ITask[],
  query: ITaskQuery,
  hasMore: boolean
): IMergeResult {
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const relevant = changes.filter(change => {
    const i = index.get(change.id);
    return i === undefined ? matchesQuery(change, query) : differs(tasks[i], change);
  });
  if (relevant.length === 0) {
    return { tasks, changed: false, needsReload: false };
  }
  const local = LOCAL_SORT_KEYS.has(splitSort(query.sort).key);
  if (!local) {
    // Removing a row or updating one whose sort value stayed keeps everyone else's order.
    const inPlace = relevant.every(change => {
      const i = index.get(change.id);
      return (
        i !== undefined &&
        (!matchesQuery(change, query) ||
          sortValue(tasks[i], query.sort) === sortValue(change, query.sort))
      );
    });
    if (!inPlace) {
      return { tasks, changed: false, needsReload: true };
    }
    const next = tasks.slice();
    for (const change of relevant) {
      next[index.get(change.id)!] = change;
    }
    const left = new Set(relevant.filter(t => !matchesQuery(t, query)).map(t => t.id));
    return { tasks: next.filter(t => !left.has(t.id)), changed: true, needsReload: false };
  }
  const moved = new Set(relevant.map(t => t.id));
  const next = tasks.filter(t => !moved.has(t.id));
  for (const change of relevant) {
    if (!matchesQuery(change, query)) {
      continue; // It left the filters (or was archived): it stays out.
    }
    // Binary search for the first row that sorts after the changed one.
    let lo = 0;
    let hi = next.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareLocal(next[mid], change, query.sort) <= 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo === next.length && hasMore) {
      continue; // It belongs to a page not loaded yet; paging brings it.
    }
    next.splice(lo, 0, change);
  }
  return { tasks: next, changed: true, needsReload: false };
}
