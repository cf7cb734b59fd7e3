/**
 * The "labtrack" left sidebar: project picker, filters, sort, and the virtualised list of the
 * project's experiments with multi-select.
 */
import * as React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';

import { ExperimentsModel } from './model';
import { relativeTime, runName, shortId, statusLabel } from '../format';
import { ITask, TASK_STATUSES } from '../tokens';
import { userLastIteration, userMetricKeys } from '../charts/system';
import { MetricCell, MetricColumnPicker, useMetricColumn } from './MetricColumn';
import { StatusIcon } from '../components/StatusIcon';
import { VirtualList } from '../components/VirtualList';

const ROW_HEIGHT = 46;

/** What the sidebar asks of its host (the plugin wires these to commands). */
export interface ISidebarActions {
  openTask(id: string): void;
  compare(ids: string[]): void;
  /** Rename one run (a double-click on its name). */
  rename(id: string): void;
  /** The run actions for `ids` as a menu at a point (the selection's Actions button). */
  openRunMenu(ids: string[], x: number, y: number): void;
  createProject(): void;
}

/** Re-render whenever the model says it changed. */
function useModel(model: ExperimentsModel): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setVersion(v => v + 1);
    model.changed.connect(bump);
    return () => {
      model.changed.disconnect(bump);
    };
  }, [model]);
  return version;
}

function metricOfSort(sort: string): [string, string] | null {
  const match = /^-?metric:(.+)\/([^/]+)$/.exec(sort);
  return match ? [match[1], match[2]] : null;
}

function TaskRow(props: {
  task: ITask;
  selected: boolean;
  columnKey: string | null;
  model: ExperimentsModel;
  actions: ISidebarActions;
}): JSX.Element {
  const { task, selected, columnKey, model, actions } = props;
  // The run's own iterations: the resource monitor's seconds do not count.
  const iteration = userLastIteration(task);
  const metricText = iteration !== null ? `iter ${iteration}` : '';
  // A running task's own note, e.g. a notebook's "last cell failed: ValueError: …".
  const note = task.status === 'in_progress' ? task.status_message : '';
  return (
    <div
      className={`lt-task-row ${selected ? 'lt-selected' : ''}`}
      data-task-id={task.id}
      onClick={() => actions.openTask(task.id)}
      data-archived={task.archived ? 'true' : undefined}
      title={`${runName(task)} (${task.id}) — ${statusLabel(task.status)}${note ? ` · ${note}` : ''}`}
    >
      <input
        type="checkbox"
        className="lt-task-check"
        checked={selected}
        aria-label={`Select ${task.name}`}
        onClick={event => event.stopPropagation()}
        onChange={event => model.toggleSelected(task.id, event.target.checked)}
      />
      <StatusIcon status={task.status} />
      <div className="lt-task-text">
        <div className="lt-task-title-line">
          <span
            className="lt-task-name"
            onDoubleClick={event => {
              event.stopPropagation();
              actions.rename(task.id);
            }}
          >
            {task.name}
          </span>
          {(task.run_count ?? 1) > 1 && <span className="lt-run-number">#{task.run_number}</span>}
          <code className="lt-short-id">{shortId(task.id)}</code>
        </div>
        <div className="lt-task-meta">
          {note && (
            <span className="lt-status-note">
              {statusLabel(task.status)} · {note.split(':')[0]}
            </span>
          )}
          <span>{task.user}</span>
          <span>{relativeTime(task.created)}</span>
          {metricText && <span className="lt-task-metric">{metricText}</span>}
          {task.tags.slice(0, 3).map(tag => (
            <span key={tag} className="lt-tag">
              {tag}
            </span>
          ))}
        </div>
      </div>
      {columnKey && <MetricCell task={task} metricKey={columnKey} />}
    </div>
  );
}

function Filters(props: { model: ExperimentsModel }): JSX.Element {
  const { model } = props;
  const [search, setSearch] = React.useState(model.query.search);
  const [tags, setTags] = React.useState(model.query.tags.join(', '));
  const timer = React.useRef<number | null>(null);
  // The model's query can change under the inputs (a state restored after a reload).
  React.useEffect(() => setSearch(model.query.search), [model.query.search]);
  React.useEffect(() => setTags(model.query.tags.join(', ')), [model.query.tags.join(',')]);

  const onSearch = (value: string) => {
    setSearch(value);
    if (timer.current !== null) {
      window.clearTimeout(timer.current);
    }
    // Debounced so typing does not fire a request per key.
    timer.current = window.setTimeout(() => void model.setQuery({ search: value }), 250);
  };
  const applyTags = () => {
    const list = tags
      .split(',')
      .map(t => t.trim())
      .filter(Boolean);
    if (list.join(',') !== model.query.tags.join(',')) {
      void model.setQuery({ tags: list });
    }
  };
  const toggleStatus = (status: string) => {
    const statuses = model.query.statuses.includes(status)
      ? model.query.statuses.filter(s => s !== status)
      : [...model.query.statuses, status];
    void model.setQuery({ statuses });
  };
  const sort = model.query.sort;
  const descending = sort.startsWith('-');
  const sortKey = descending ? sort.slice(1) : sort;
  // The runs' own metrics: the system gauges (CPU, memory, GPU) are no ranking.
  const metricKeys = userMetricKeys(model.metricKeys());
  const currentMetric = metricOfSort(sortKey);
  if (currentMetric && !metricKeys.includes(currentMetric.join('/'))) {
    metricKeys.unshift(currentMetric.join('/'));
  }
  return (
    <div className="lt-filters">
      <input
        className="lt-search"
        type="search"
        placeholder="Search experiments"
        value={search}
        onChange={event => onSearch(event.target.value)}
      />
      <div className="lt-status-filter" role="group" aria-label="Status filter">
        {TASK_STATUSES.map(status => (
          <button
            key={status}
            className={`lt-chip ${model.query.statuses.includes(status) ? 'lt-chip-on' : ''}`}
            data-status={status}
            onClick={() => toggleStatus(status)}
            title={`Show ${statusLabel(status)} experiments`}
          >
            <StatusIcon status={status} /> {statusLabel(status)}
          </button>
        ))}
      </div>
      <div className="lt-row">
        <button
          className={`lt-chip lt-archived-filter ${model.query.archived ? 'lt-chip-on' : ''}`}
          aria-pressed={model.query.archived}
          title={
            model.query.archived
              ? 'Showing archived experiments (click to show the others)'
              : 'Show the archived experiments instead'
          }
          onClick={() => void model.setQuery({ archived: !model.query.archived })}
        >
          archived
        </button>
        <input
          className="lt-tags"
          placeholder="Tags (comma separated)"
          value={tags}
          onChange={event => setTags(event.target.value)}
          onBlur={applyTags}
          onKeyDown={event => {
            if (event.key === 'Enter') {
              applyTags();
            }
          }}
        />
      </div>
      <div className="lt-row">
        <label className="lt-label">Sort</label>
        <select
          className="lt-sort"
          value={sortKey}
          onChange={event =>
            void model.setQuery({ sort: (descending ? '-' : '') + event.target.value })
          }
        >
          <option value="created">created</option>
          <option value="last_update">last update</option>
          <option value="started">started</option>
          <option value="name">name</option>
          <option value="status">status</option>
          <option value="last_iteration">last iteration</option>
          {metricKeys.map(key => (
            <option key={key} value={`metric:${key}`}>
              last {key}
            </option>
          ))}
        </select>
        <button
          className="lt-button lt-sort-dir"
          title={
            descending ? 'Descending (click for ascending)' : 'Ascending (click for descending)'
          }
          onClick={() => void model.setQuery({ sort: (descending ? '' : '-') + sortKey })}
        >
          {descending ? '↓' : '↑'}
        </button>
      </div>
      <div className="lt-row">
        <label className="lt-label">Column</label>
        <MetricColumnPicker keys={metricKeys} />
      </div>
    </div>
  );
}

/** The whole sidebar view. */
export function SidebarView(props: {
  model: ExperimentsModel;
  actions: ISidebarActions;
}): JSX.Element {
  const { model, actions } = props;
  useModel(model);
  const columnKey = useMetricColumn(model.query.sort);
  const selected = [...model.selected];
  let body: JSX.Element;
  if (model.error) {
    body = (
      <div className="lt-error" role="alert">
        <div className="lt-error-title">labtrack cannot load experiments</div>
        <div className="lt-error-message">{model.error}</div>
        <button className="lt-button" onClick={() => void model.loadProjects()}>
          Retry
        </button>
      </div>
    );
  } else if (!model.loading && model.projects.length === 0) {
    body = (
      <div className="lt-empty">
        No projects yet. Open a notebook and press <b>Track</b>, or call{' '}
        <code>labtrack.Task.init(project_name=…)</code> in your code.
      </div>
    );
  } else if (!model.loading && model.tasks.length === 0) {
    body = (
      <div className="lt-empty">
        {model.query.search || model.query.statuses.length || model.query.tags.length
          ? 'No experiments match these filters.'
          : model.query.archived
          ? 'No archived experiments in this project.'
          : 'No experiments in this project yet.'}
      </div>
    );
  } else {
    body = (
      <VirtualList
        items={model.tasks}
        rowHeight={ROW_HEIGHT}
        className="lt-task-list"
        onNearEnd={() => void model.loadMore()}
        renderRow={task => (
          <TaskRow
            task={task}
            selected={model.selected.has(task.id)}
            columnKey={columnKey}
            model={model}
            actions={actions}
          />
        )}
      />
    );
  }
  return (
    <div className="lt-sidebar">
      <div className="lt-header">
        <span className="lt-title">labtrack</span>
        {model.stale && (
          <button
            className="lt-stale"
            title={`Showing the last rows loaded: the latest refresh failed (${model.stale}). Click to retry.`}
            onClick={() => void model.loadProjects()}
          >
            stale
          </button>
        )}
        <span className="lt-spacer" />
        <button
          className="lt-button lt-refresh"
          title="Reload projects and experiments"
          onClick={() => void model.loadProjects()}
        >
          ⟳ Refresh
        </button>
      </div>
      <div className="lt-row lt-project-row">
        <label className="lt-label">Project</label>
        <select
          className="lt-project"
          aria-label="Project"
          value={model.query.projectId}
          onChange={event => void model.setQuery({ projectId: event.target.value })}
        >
          {model.projects.length === 0 && <option value="">(no projects)</option>}
          {model.projects.map(project => (
            <option key={project.id} value={project.id}>
              {project.name} ({project.task_count})
            </option>
          ))}
        </select>
        <button
          className="lt-button lt-new-project"
          title="New project"
          aria-label="New project"
          onClick={() => actions.createProject()}
        >
          +
        </button>
      </div>
      <Filters model={model} />
      <div className="lt-selection-bar">
        <span className="lt-count">
          {selected.length > 0 ? `${selected.length} selected · ` : ''}
          {model.tasks.length}
          {model.nextCursor ? '+' : ''}
          {selected.length > 0 ? '' : ` experiment${model.tasks.length === 1 ? '' : 's'}`}
          {model.loading ? ' · loading…' : ''}
        </span>
        <span className="lt-spacer" />
        {selected.length > 0 && (
          <button
            className="lt-button lt-selection-actions"
            title={`Rename, tag, move, clone, abort, publish, archive or delete the ${selected.length} selected`}
            onClick={event => {
              const box = event.currentTarget.getBoundingClientRect();
              actions.openRunMenu(selected, box.left, box.bottom);
            }}
          >
            Actions ▾
          </button>
        )}
        {selected.length > 0 && (
          <button
            className="lt-button lt-clear"
            title={`Clear the selection (${selected.length})`}
            aria-label="Clear the selection"
            onClick={() => model.clearSelection()}
          >
            ✕
          </button>
        )}
        <button
          className="lt-button lt-compare lt-accept"
          disabled={selected.length < 2}
          title="Select two or more experiments to compare them"
          onClick={() => actions.compare(selected)}
        >
          Compare {selected.length >= 2 ? selected.length : ''}
        </button>
      </div>
      {body}
    </div>
  );
}

/** The Lumino widget hosting the sidebar view. */
export class SidebarWidget extends ReactWidget {
  constructor(
    readonly model: ExperimentsModel,
    private readonly actions: ISidebarActions
  ) {
    super();
    this.id = 'labtrack-sidebar';
    this.addClass('lt-sidebar-widget');
    this.title.caption = 'labtrack experiments';
  }

  render(): JSX.Element {
    return <SidebarView model={this.model} actions={this.actions} />;
  }
}
