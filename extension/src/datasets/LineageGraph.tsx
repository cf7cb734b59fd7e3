/**
 * A version's lineage as a small SVG graph: ancestors on the left, arrows from parent to child,
 * the version itself highlighted; a click on another version opens it.
 */
import * as React from 'react';

import { IDataset } from '../tokens';
import { layoutLineage } from './lineage';

const NODE_W = 150;
const NODE_H = 44;
const GAP_X = 50;
const GAP_Y = 16;
const PAD = 8;

export function LineageGraph(props: {
  items: IDataset[];
  openDataset: (id: string) => void;
}): JSX.Element {
  const { items, openDataset } = props;
  const layout = React.useMemo(() => layoutLineage(items), [items]);
  const current = items[0]?.id;
  const at = new Map(
    layout.nodes.map(n => [
      n.dataset.id,
      { x: PAD + n.column * (NODE_W + GAP_X), y: PAD + n.row * (NODE_H + GAP_Y) }
    ])
  );
  const width = PAD * 2 + layout.columns * NODE_W + (layout.columns - 1) * GAP_X;
  const height = PAD * 2 + layout.rows * NODE_H + (layout.rows - 1) * GAP_Y;
  return (
    <svg
      className="lt-lineage"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`Lineage of ${items.length} version(s)`}
    >
      <defs>
        <marker
          id="lt-arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0 0L10 5L0 10z" className="lt-lineage-arrow" />
        </marker>
      </defs>
      {layout.edges.map(([from, to]) => {
        const a = at.get(from)!;
        const b = at.get(to)!;
        const x1 = a.x + NODE_W;
        const y1 = a.y + NODE_H / 2;
        const x2 = b.x - 2;
        const y2 = b.y + NODE_H / 2;
        const mid = (x1 + x2) / 2;
        return (
          <path
            key={`${from}-${to}`}
            className="lt-lineage-edge"
            data-edge={`${from}->${to}`}
            d={`M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}`}
            markerEnd="url(#lt-arrow)"
          />
        );
      })}
      {layout.nodes.map(({ dataset }) => {
        const { x, y } = at.get(dataset.id)!;
        const isCurrent = dataset.id === current;
        return (
          <g
            key={dataset.id}
            className={`lt-lineage-node ${isCurrent ? 'lt-lineage-current' : ''}`}
            data-dataset-id={dataset.id}
            data-version={dataset.version}
            transform={`translate(${x} ${y})`}
            onClick={() => !isCurrent && openDataset(dataset.id)}
          >
            <title>{`${dataset.project} / ${dataset.name} ${dataset.version} (${dataset.state})\n${dataset.id}`}</title>
            <rect width={NODE_W} height={NODE_H} rx={5} />
            <text x={8} y={18} className="lt-lineage-name">
              {clip(dataset.name, 17)} v{dataset.version}
            </text>
            <text x={8} y={35} className="lt-lineage-meta">
              {dataset.state} · {dataset.file_count.toLocaleString()} files
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function clip(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
