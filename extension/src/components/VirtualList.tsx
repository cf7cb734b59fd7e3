import * as React from 'react';

/**
 * A fixed-row-height virtual list: only the rows in view (plus a margin) are in the DOM, so
 * ten thousand rows scroll as smoothly as ten. Calls `onNearEnd` when the user scrolls close
 * to the last loaded row, which loads the next server page.
 */
export function VirtualList<T>(props: {
  items: T[];
  rowHeight: number;
  renderRow: (item: T, index: number) => JSX.Element;
  onNearEnd?: () => void;
  className?: string;
}): JSX.Element {
  const { items, rowHeight, renderRow, onNearEnd } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(600);

  React.useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    observer.observe(el);
    setHeight(el.clientHeight || 600);
    return () => observer.disconnect();
  }, []);

  const overscan = 8;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);

  React.useEffect(() => {
    if (onNearEnd && last >= items.length - overscan * 4) {
      onNearEnd();
    }
  }, [last, items.length]);

  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div
        key={i}
        className="lt-vrow"
        style={{ position: 'absolute', top: i * rowHeight, height: rowHeight, left: 0, right: 0 }}
      >
        {renderRow(items[i], i)}
      </div>
    );
  }
  return (
    <div
      ref={ref}
      className={`lt-vlist ${props.className ?? ''}`}
      onScroll={event => setScrollTop((event.target as HTMLDivElement).scrollTop)}
    >
      <div style={{ position: 'relative', height: items.length * rowHeight }}>{rows}</div>
    </div>
  );
}
