import * as React from 'react';

/**
 * Renders its children only once the placeholder scrolls into view: charts far down a panel
 * (and WebGL ones such as parallel coordinates) do not delay the ones the user sees first.
 */
export function WhenVisible(props: {
  minHeight: number;
  children: () => JSX.Element;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const [seen, setSeen] = React.useState(false);
  React.useEffect(() => {
    const el = ref.current;
    if (!el || seen) {
      return;
    }
    const observer = new IntersectionObserver(entries => {
      if (entries.some(e => e.isIntersecting)) {
        setSeen(true);
        observer.disconnect();
      }
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [seen]);
  return (
    <div ref={ref} style={seen ? undefined : { minHeight: props.minHeight }}>
      {seen ? props.children() : null}
    </div>
  );
}
