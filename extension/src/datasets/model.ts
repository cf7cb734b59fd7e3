/**
 * State of the datasets sidebar: every version (newest first), grouped by project and dataset,
 * a project filter and a name search, and a live refresh that only re-reads the list when its
 * newest page changed.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { listDatasets } from '../api';
import { IDataset } from '../tokens';
import { errorText, VisiblePoller } from '../components/panel';

/** One line of the sidebar's tree: a project, a dataset (its versions), or a version. */
export type DatasetRow =
  | { kind: 'project'; key: string; project: string; datasets: number }
  | { kind: 'dataset'; key: string; project: string; name: string; versions: IDataset[]; open: boolean }
  | { kind: 'version'; key: string; dataset: IDataset; latest: boolean };

/** How many of the newest versions a poll compares with what the list shows. */
const POLL_SIZE = 50;

/** Datasets with more versions than this start folded. */
const UNFOLDED_VERSIONS = 100;

function stamp(d: IDataset): string {
  return `${d.id}:${d.state}:${d.file_count}:${d.total_size}:${d.description}`;
}

export class DatasetsModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  versions: IDataset[] = [];
  /** False when the list stopped at its page limit (the sidebar says so). */
  complete = true;
  /** True until the first load has answered (the panel loads on its first show). */
  loading = true;
  error: string | null = null;
  stale: string | null = null;
  project = '';
  search = '';

  async load(): Promise<void> {
    this.loading = true;
    this._changed.emit();
    try {
      const { items, complete } = await listDatasets();
      this.versions = items;
      this.complete = complete;
      this.error = null;
      this.stale = null;
      this._loaded = true;
    } catch (error) {
      if (this._loaded) {
        this.stale = errorText(error);
      } else {
        this.error = errorText(error);
      }
    } finally {
      this.loading = false;
      this._changed.emit();
    }
  }

  /** A poll: the newest page only; the whole list is re-read only when that page changed. */
  async refresh(): Promise<void> {
    try {
      const { items } = await listDatasets(undefined, 1, POLL_SIZE);
      const known = new Map(this.versions.map(d => [d.id, stamp(d)]));
      if (items.some(d => known.get(d.id) !== stamp(d)) || (!items.length && this.versions.length)) {
        await this.load();
      } else if (this.stale) {
        this.stale = null;
        this._changed.emit();
      }
    } catch (error) {
      if (this._loaded) {
        this.stale = errorText(error);
        this._changed.emit();
      }
    }
  }

  setFilter(filter: { project?: string; search?: string }): void {
    this.project = filter.project ?? this.project;
    this.search = filter.search ?? this.search;
    this._changed.emit();
  }

  /** Fold or unfold a dataset's versions (`open`: how it is shown now). */
  toggle(key: string, open: boolean): void {
    this._folded.set(key, open);
    this._changed.emit();
  }

  /** Projects that have datasets, by name. */
  projects(): string[] {
    return [...new Set(this.versions.map(d => d.project))].sort();
  }

  /** The tree as rows: projects by name, their datasets by name, versions newest first. */
  rows(): DatasetRow[] {
    const needle = this.search.trim().toLowerCase();
    const groups = new Map<string, Map<string, IDataset[]>>();
    for (const d of this.versions) {
      if ((this.project && d.project !== this.project) || !d.name.toLowerCase().includes(needle)) {
        continue;
      }
      const names = groups.get(d.project) ?? new Map<string, IDataset[]>();
      groups.set(d.project, names);
      names.set(d.name, [...(names.get(d.name) ?? []), d]);
    }
    const rows: DatasetRow[] = [];
    for (const project of [...groups.keys()].sort()) {
      const names = groups.get(project)!;
      rows.push({ kind: 'project', key: `p:${project}`, project, datasets: names.size });
      for (const name of [...names.keys()].sort()) {
        const versions = names.get(name)!;
        const key = `d:${project}\u0000${name}`;
        const open = this.isOpen(key, versions.length);
        rows.push({ kind: 'dataset', key, project, name, versions, open });
        if (open) {
          versions.forEach((dataset, i) =>
            rows.push({ kind: 'version', key: `v:${dataset.id}`, dataset, latest: i === 0 })
          );
        }
      }
    }
    return rows;
  }

  startPolling(seconds: number, isVisible: () => boolean): void {
    this._poller.start(seconds, isVisible);
  }

  dispose(): void {
    this._poller.stop();
    Signal.clearData(this);
  }

  private isOpen(key: string, versions = 0): boolean {
    const folded = this._folded.get(key);
    return folded === undefined ? versions <= UNFOLDED_VERSIONS : !folded;
  }

  private _changed = new Signal<this, void>(this);
  private _folded = new Map<string, boolean>();
  private _loaded = false;
  private _poller = new VisiblePoller(() => this.refresh());
}
