/**
 * What the list panels (datasets, models, queues) put around their lists: the header (title,
 * stale badge, Refresh), the project filter and the line counting the rows loaded.
 */
import * as React from 'react';

import { StaleBadge } from './panel';

export function PanelHeader(props: {
  title: string;
  /** Why the rows shown are stale (the last refresh failed), or null. */
  stale: string | null;
  refreshTitle: string;
  onRefresh: () => void;
  /** What the stale badge retries (default: the refresh). */
  onRetry?: () => void;
}): JSX.Element {
  return (
    <div className="lt-header">
      <span className="lt-title">{props.title}</span>
      <StaleBadge reason={props.stale} onRetry={props.onRetry ?? props.onRefresh} />
      <span className="lt-spacer" />
      <button
        className="lt-button lt-panel-refresh"
        title={props.refreshTitle}
        onClick={props.onRefresh}
      >
        ⟳ Refresh
      </button>
    </div>
  );
}

/** "Project: [all projects | each project]". */
export function ProjectFilter(props: {
  className: string;
  label: string;
  value: string;
  projects: string[];
  onChange: (project: string) => void;
}): JSX.Element {
  return (
    <div className="lt-row">
      <label className="lt-label">Project</label>
      <select
        className={`lt-select ${props.className}`}
        aria-label={props.label}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      >
        <option value="">all projects</option>
        {props.projects.map(p => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
    </div>
  );
}

/** "1,234+ versions · loading…": the rows loaded, with a '+' while the server has more. */
export function CountBar(props: {
  count: number;
  more: boolean;
  noun: string;
  loading: boolean;
}): JSX.Element {
  const { count, more, noun, loading } = props;
  return (
    <div className="lt-selection-bar">
      <span className="lt-count">
        {`${count.toLocaleString()}${more ? '+' : ''} ${noun}${count === 1 ? '' : 's'}`}
        {loading ? ' · loading…' : ''}
      </span>
    </div>
  );
}
