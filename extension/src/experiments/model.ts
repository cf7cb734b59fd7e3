/**
 * State of the experiments sidebar: project, filters, the loaded pages of tasks, selection,
 * and a live refresh that runs only while the panel is visible and asks only for what changed.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ITaskQuery, listAllProjects, listChangedTasks, listTasks } from '../api';
import { mergeChanges, newestOf, newestStamp, updatedAfterParam } from './live';
import { allMetricKeys } from '../format';
import { LabtrackError } from '../request';
import { IProject, ITask } from '../tokens';

/** Rows fetched per server page; the list asks for the next page near its end. */
export const PAGE_SIZE = 200;

/** Most changed rows one live poll reads; more than that re-reads the loaded span instead. */
export const POLL_LIMIT = 100;

/** What of the sidebar survives a reload (kept in JupyterLab's state database). */
export interface ISidebarState {
  projectId: string;
  search: string;
  statuses: string[];
  tags: string[];
  sort: string;
  archived: boolean;
  selected: string[];
}

export class ExperimentsModel {
  /** Emitted whenever anything the sidebar draws has changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted when the selection changes (commands re-evaluate their enabled state). */
  get selectionChanged(): ISignal<this, void> {
    return this._selectionChanged;
  }

  /** Emitted when the project, a filter, the sort or the selection changes (to save them). */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  projects: IProject[] = [];
  tasks: ITask[] = [];
  nextCursor: string | null = null;
  loading = false;
  /** Why the first load failed (the sidebar shows an error box instead of the list). */
  error: string | null = null;
  /** Why the last read failed after rows had loaded: they stay, with a "stale" badge. */
  stale: string | null = null;
  query: ITaskQuery = {
    projectId: '',
    search: '',
    statuses: [],
    tags: [],
    sort: '-created',
    archived: false
  };
  readonly selected = new Set<string>();
  defaultProject = '';

  /** Load the projects, choose the default one, then the first page of tasks. */
  async loadProjects(): Promise<void> {
    try {
      this.projects = await listAllProjects();
    } catch (error) {
      this.setError(error);
      this._changed.emit();
      return;
    }
    const known = this.projects.some(p => p.id === this.query.projectId);
    if (!known) {
      const preferred =
        this.projects.find(p => p.name === this.defaultProject) ??
        [...this.projects].sort((a, b) => (a.created < b.created ? 1 : -1))[0];
      this.query = { ...this.query, projectId: preferred ? preferred.id : '' };
    }
    await this.reload();
  }

  /** Change filters or sort and reload from the first page. */
  async setQuery(patch: Partial<ITaskQuery>): Promise<void> {
    this.query = { ...this.query, ...patch };
    this._stateChanged.emit();
    await this.reload();
  }

  /** The sidebar's state to keep across a reload. */
  get state(): ISidebarState {
    const { projectId, search, statuses, tags, sort, archived } = this.query;
    return { projectId, search, statuses, tags, sort, archived, selected: [...this.selected] };
  }

  /**
   * Take back a saved state before the first load (its project is kept when it still exists;
   * unknown or malformed fields keep their defaults).
   */
  restoreState(saved: Partial<ISidebarState>): void {
    const text = (value: unknown, fallback: string) =>
      typeof value === 'string' ? value : fallback;
    const list = (value: unknown, fallback: string[]) =>
      Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : fallback;
    this.query = {
      projectId: text(saved.projectId, this.query.projectId),
      search: text(saved.search, this.query.search),
      statuses: list(saved.statuses, this.query.statuses),
      tags: list(saved.tags, this.query.tags),
      sort: text(saved.sort, this.query.sort) || '-created',
      archived: saved.archived === true
    };
    this.selected.clear();
    for (const id of list(saved.selected, [])) {
      this.selected.add(id);
    }
    this._selectionChanged.emit();
    this._changed.emit();
  }

  /** A loaded row by id. */
  taskById(id: string): ITask | undefined {
    return this.tasks.find(t => t.id === id);
  }

  /** Forget deleted runs: they leave the rows and the selection at once. */
  forget(ids: string[]): void {
    const gone = new Set(ids);
    this.tasks = this.tasks.filter(t => !gone.has(t.id));
    let unselected = false;
    for (const id of ids) {
      unselected = this.selected.delete(id) || unselected;
    }
    if (unselected) {
      this._selectionChanged.emit();
      this._stateChanged.emit();
    }
    this._changed.emit();
  }

  /** Replace the loaded tasks with the first page for the current query. */
  async reload(): Promise<void> {
    const generation = ++this._generation;
    this.loading = true;
    this._changed.emit();
    try {
      const page = await listTasks(this.query, PAGE_SIZE);
      if (generation !== this._generation) {
        return; // A newer query won the race.
      }
      this.tasks = page.items;
      this.nextCursor = page.next_cursor;
      // Every loaded row is as new as this read, so changes from here on are at or after it.
      this._since = newestOf(page.items);
      this._projectCount = this.currentProjectCount();
      this.error = this.stale = null;
      this._loaded = true;
    } catch (error) {
      if (generation === this._generation) {
        this.setError(error);
      }
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this._changed.emit();
      }
    }
  }

  /** Append the next server page (the virtual list calls this near its end). */
  async loadMore(): Promise<void> {
    if (this.loading || !this.nextCursor) {
      return;
    }
    const generation = this._generation;
    this.loading = true;
    try {
      const page = await listTasks(this.query, PAGE_SIZE, this.nextCursor);
      if (generation !== this._generation) {
        return;
      }
      const seen = new Set(this.tasks.map(t => t.id));
      this.tasks = this.tasks.concat(page.items.filter(t => !seen.has(t.id)));
      this.nextCursor = page.next_cursor;
    } catch (error) {
      this.setError(error);
    } finally {
      this.loading = false;
      this._changed.emit();
    }
  }

  /**
   * One live poll: ask the server only for the project's tasks whose `last_update` is at or
   * after the newest one seen (less a margin), and merge them into the loaded rows.
   *
   * The rows loaded by `loadMore` never move the cursor: they were read later than the rest,
   * and a cursor taken from them could skip a change to an earlier row.
   */
  async refresh(): Promise<void> {
    if (this.loading || this._polling) {
      return;
    }
    if (!this.query.projectId) {
      await this.loadProjects();
      return;
    }
    const generation = this._generation;
    const query = this.query;
    this._polling = true;
    try {
      // Projects too: new ones appear and the task counts stay right.
      const [projects, page] = await Promise.all([
        listAllProjects(),
        listChangedTasks(query, updatedAfterParam(this._since), POLL_LIMIT)
      ]);
      this.projects = projects;
      if (generation !== this._generation) {
        return;
      }
      const wasError = this.error !== null || this.stale !== null;
      this.error = this.stale = null;
      const count = this.currentProjectCount();
      // A deleted task never shows up as changed; the project's count going down gives it away.
      const deleted = count !== null && this._projectCount !== null && count < this._projectCount;
      this._projectCount = count;
      if (page.next_cursor || deleted) {
        // Too many changes (or a deletion) to merge: re-read the loaded span.
        await this.reloadSpan(generation, page.items[0]?.last_update ?? null);
        return;
      }
      const merged = mergeChanges(this.tasks, page.items, query, this.nextCursor !== null);
      if (merged.needsReload) {
        await this.reloadSpan(generation, newestOf(page.items));
        return;
      }
      this._since = newestStamp(this._since, newestOf(page.items));
      this.tasks = merged.changed ? shareRunCounts(merged.tasks) : merged.tasks;
      // Redraw only when a row changed (the poll repeats the newest rows by design).
      if (merged.changed || wasError || this._projectsSignature !== this.projectsSignature()) {
        this._projectsSignature = this.projectsSignature();
        this._changed.emit();
      }
    } catch (error) {
      this.setError(error);
      this._changed.emit();
    } finally {
      this._polling = false;
    }
  }

  /**
   * Re-read the loaded span of the list (capped at the server's page limit) and swap it in,
   * keeping the scroll position; used when merging changes cannot be exact.
   */
  private async reloadSpan(generation: number, newestChange: string | null): Promise<void> {
    const limit = Math.min(1000, Math.max(PAGE_SIZE, this.tasks.length));
    const page = await listTasks(this.query, limit);
    if (generation !== this._generation) {
      return;
    }
    const fresh = new Map(page.items.map(t => [t.id, t]));
    // Rows beyond the refreshed span stay as they were (they are far off screen).
    const tail = this.tasks.slice(limit).filter(t => !fresh.has(t.id));
    this.tasks = page.items.concat(tail);
    if (this.tasks.length <= limit) {
      this.nextCursor = page.next_cursor;
    }
    this._since = newestStamp(newestStamp(this._since, newestChange), newestOf(page.items));
    this._projectsSignature = this.projectsSignature();
    this._changed.emit();
  }

  /** The chosen project's task count as last listed (null when unknown). */
  private currentProjectCount(): number | null {
    const project = this.projects.find(p => p.id === this.query.projectId);
    return project ? project.task_count : null;
  }

  private projectsSignature(): string {
    return this.projects.map(p => `${p.id}:${p.name}:${p.task_count}`).join('|');
  }

  /** Names of every `metric/variant` seen in the loaded tasks (for "sort by metric"). */
  metricKeys(): string[] {
    return allMetricKeys(this.tasks.slice(0, 2000));
  }

  toggleSelected(id: string, on?: boolean): void {
    const want = on ?? !this.selected.has(id);
    if (want) {
      this.selected.add(id);
    } else {
      this.selected.delete(id);
    }
    this._selectionChanged.emit();
    this._stateChanged.emit();
    this._changed.emit();
  }

  clearSelection(): void {
    this.selected.clear();
    this._selectionChanged.emit();
    this._stateChanged.emit();
    this._changed.emit();
  }

  /** Start the live refresh; it runs only while `isVisible()` says the panel is shown. */
  startPolling(intervalSeconds: number, isVisible: () => boolean): void {
    this.stopPolling();
    const ms = Math.max(1, intervalSeconds) * 1000;
    this._timer = window.setInterval(() => {
      if (isVisible() && !document.hidden) {
        void this.refresh();
      }
    }, ms);
  }

  stopPolling(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  dispose(): void {
    this.stopPolling();
    Signal.clearData(this);
  }

  /**
   * A failed read. Before anything loaded it is the sidebar's error; afterwards the rows stay
   * and it only marks them stale (one failed poll must never replace the list).
   */
  private setError(error: unknown): void {
    const message =
      error instanceof LabtrackError ? error.message : `Unexpected error: ${String(error)}`;
    if (this._loaded) {
      this.stale = message;
    } else {
      this.error = message;
    }
  }

  private _changed = new Signal<this, void>(this);
  private _selectionChanged = new Signal<this, void>(this);
  private _stateChanged = new Signal<this, void>(this);
  private _generation = 0;
  private _timer: number | null = null;
  private _polling = false;
  /** Whether a list of tasks has loaded once (from then on failures only mark it stale). */
  private _loaded = false;
  /** The newest `last_update` (server time) up to which the loaded rows are known current. */
  private _since: string | null = null;
  private _projectCount: number | null = null;
  private _projectsSignature = '';
}

/**
 * A new run of a name makes its older siblings' `run_count` stale (they were read before it),
 * so a name that was unique would stay unnumbered; give every loaded row of a project and name
 * the largest count seen among them.
 */
export function shareRunCounts(tasks: ITask[]): ITask[] {
  const largest = new Map<string, number>();
  const key = (t: ITask) => `${t.project_id}\n${t.name}`;
  for (const t of tasks) {
    largest.set(key(t), Math.max(largest.get(key(t)) ?? 0, t.run_count ?? 1));
  }
  return tasks.map(t => {
    const count = largest.get(key(t)) ?? 1;
    return (t.run_count ?? 1) < count ? { ...t, run_count: count } : t;
  });
}
