/**
 * Where each version of a lineage goes in the graph: ancestors to the left, the version itself
 * at the right; a version's column is its longest distance from the version shown.
 */
import { IDataset } from '../tokens';

export interface ILineageNode {
  dataset: IDataset;
  column: number;
  row: number;
}

export interface ILineageLayout {
  nodes: ILineageNode[];
  /** parent id → child id, for versions both in the lineage. */
  edges: Array<[string, string]>;
  columns: number;
  rows: number;
}

/** Lay out `items` (the version first, then its ancestors, as `GET /lineage` answers). */
export function layoutLineage(items: IDataset[]): ILineageLayout {
  const byId = new Map(items.map(d => [d.id, d]));
  const depth = new Map<string, number>();
  if (items.length) {
    // Longest path from the version: a shared ancestor sits left of everything it feeds.
    const visit = (id: string, d: number, seen: Set<string>) => {
      if (seen.has(id) || (depth.get(id) ?? -1) >= d) {
        return;
      }
      depth.set(id, d);
      const next = new Set(seen).add(id);
      for (const parent of byId.get(id)?.parents ?? []) {
        if (byId.has(parent)) {
          visit(parent, d + 1, next);
        }
      }
    };
    visit(items[0].id, 0, new Set());
  }
  const maxDepth = Math.max(0, ...depth.values());
  const perColumn = new Map<number, number>();
  const nodes: ILineageNode[] = [];
  for (const dataset of items) {
    const d = depth.get(dataset.id);
    if (d === undefined) {
      continue;
    }
    const column = maxDepth - d;
    const row = perColumn.get(column) ?? 0;
    perColumn.set(column, row + 1);
    nodes.push({ dataset, column, row });
  }
  const edges: Array<[string, string]> = [];
  for (const node of nodes) {
    for (const parent of node.dataset.parents) {
      if (depth.has(parent)) {
        edges.push([parent, node.dataset.id]);
      }
    }
  }
  return {
    nodes,
    edges,
    columns: maxDepth + 1,
    rows: Math.max(1, ...perColumn.values())
  };
}
