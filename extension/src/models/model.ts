/**
 * State of the models sidebar: the registry's filters (project, name search, tags, frameworks),
 * the loaded pages, and a live refresh of the first page while the panel is visible.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IModelQuery, listAllProjects, listModels } from '../api';
import { IModel } from '../tokens';
import { errorText, VisiblePoller } from '../components/panel';

const PAGE = 200;

function stamp(models: IModel[]): string {
  return models.map(m => `${m.id}:${m.last_update}:${m.published}`).join(',');
}

export class ModelsModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  query: IModelQuery = { project: '', search: '', tags: [], frameworks: [] };
  models: IModel[] = [];
  projects: string[] = [];
  nextCursor: string | null = null;
  /** True until the first load has answered (the panel loads on its first show). */
  loading = true;
  error: string | null = null;
  stale: string | null = null;

  /** The projects (for the picker) and the first page. */
  async load(): Promise<void> {
    try {
      this.projects = (await listAllProjects()).map(p => p.name).sort();
    } catch {
      // The list below says what is wrong.
    }
    await this.reload();
  }

  async setQuery(change: Partial<IModelQuery>): Promise<void> {
    this.query = { ...this.query, ...change };
    await this.reload();
  }

  async reload(): Promise<void> {
    const seq = ++this._seq;
    this.loading = true;
    this._changed.emit();
    try {
      const page = await listModels(this.query, null, PAGE);
      if (seq !== this._seq) {
        return;
      }
      this.models = page.items;
      this.nextCursor = page.next_cursor;
      this.error = null;
      this.stale = null;
      this._loaded = true;
    } catch (error) {
      if (seq === this._seq) {
        this.fail(error);
      }
    } finally {
      if (seq === this._seq) {
        this.loading = false;
        this._changed.emit();
      }
    }
  }

  async loadMore(): Promise<void> {
    if (!this.nextCursor || this.loading) {
      return;
    }
    const seq = this._seq;
    this.loading = true;
    try {
      const page = await listModels(this.query, this.nextCursor, PAGE);
      if (seq === this._seq) {
        const seen = new Set(this.models.map(m => m.id));
        this.models = this.models.concat(page.items.filter(m => !seen.has(m.id)));
        this.nextCursor = page.next_cursor;
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.loading = false;
      this._changed.emit();
    }
  }

  /** A poll: the first page again; the list changes only when that page did. */
  async refresh(): Promise<void> {
    const seq = this._seq;
    try {
      const page = await listModels(this.query, null, PAGE);
      if (seq !== this._seq) {
        return;
      }
      const changed = stamp(page.items) !== stamp(this.models.slice(0, page.items.length));
      if (changed || this.stale) {
        if (changed) {
          this.models = page.items;
          this.nextCursor = page.next_cursor;
        }
        this.stale = null;
        this._changed.emit();
      }
    } catch (error) {
      this.fail(error);
      this._changed.emit();
    }
  }

  /** Frameworks of the loaded models (suggestions for the filter). */
  frameworks(): string[] {
    return [...new Set(this.models.map(m => m.framework).filter(Boolean))].sort();
  }

  startPolling(seconds: number, isVisible: () => boolean): void {
    this._poller.start(seconds, isVisible);
  }

  dispose(): void {
    this._poller.stop();
    Signal.clearData(this);
  }

  /** Before anything loaded a failure is the panel's error; afterwards the rows stay, stale. */
  private fail(error: unknown): void {
    if (this._loaded) {
      this.stale = errorText(error);
    } else {
      this.error = errorText(error);
    }
  }

  private _changed = new Signal<this, void>(this);
  private _loaded = false;
  private _seq = 0;
  private _poller = new VisiblePoller(() => this.refresh());
}
