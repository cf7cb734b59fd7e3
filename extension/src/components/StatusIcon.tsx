import * as React from 'react';

import { statusLabel } from '../format';

/** A small colored glyph for a task status (colors come from theme variables). */
export function StatusIcon(props: { status: string }): JSX.Element {
  const glyphs: Record<string, string> = {
    created: '○',
    queued: '◔',
    in_progress: '◐',
    completed: '●',
    failed: '✕',
    stopped: '■',
    published: '★'
  };
  return (
    <span
      className={`lt-status lt-status-${props.status}`}
      title={statusLabel(props.status)}
      aria-label={statusLabel(props.status)}
    >
      {glyphs[props.status] ?? '?'}
    </span>
  );
}
