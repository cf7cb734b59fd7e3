/**
 * What changed between two versions' manifests, by path: the same rule as the SDK's
 * `Dataset.diff` (added, removed, and changed = same path, another sha256).
 */
import { IDatasetFile } from '../tokens';

export type ChangeKind = 'added' | 'removed' | 'changed';

export interface IFileChange {
  path: string;
  kind: ChangeKind;
  /** The size in the newer version (the older one's for a removed file). */
  size: number;
  /** The size in the older version, for a changed file. */
  oldSize?: number;
}

export interface IDiffSummary {
  changes: IFileChange[];
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
}

/**
 * Compare `older` with `newer`. Maps rather than a merge of the two sorted pages: the server's
 * path order depends on the database's collation, the browser's on UTF-16 units.
 */
export function diffManifests(older: IDatasetFile[], newer: IDatasetFile[]): IDiffSummary {
  const before = new Map(older.map(f => [f.path, f]));
  const changes: IFileChange[] = [];
  let unchanged = 0;
  for (const file of newer) {
    const old = before.get(file.path);
    if (!old) {
      changes.push({ path: file.path, kind: 'added', size: file.size });
    } else {
      before.delete(file.path);
      if (old.sha256 !== file.sha256) {
        changes.push({ path: file.path, kind: 'changed', size: file.size, oldSize: old.size });
      } else {
        unchanged++;
      }
    }
  }
  for (const old of before.values()) {
    changes.push({ path: old.path, kind: 'removed', size: old.size });
  }
  changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const count = (kind: ChangeKind) => changes.filter(c => c.kind === kind).length;
  return {
    changes,
    added: count('added'),
    removed: count('removed'),
    changed: count('changed'),
    unchanged
  };
}
