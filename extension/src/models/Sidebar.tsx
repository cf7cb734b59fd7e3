/**
 * The Models left panel: the registry filtered by project, name, tags and framework; each row
 * shows the framework, published state and tags; a click opens the model's page.
 */
import * as React from 'react';

import { relativeTime } from '../format';
import { IModel } from '../tokens';
import { CountBar, PanelHeader, ProjectFilter } from '../components/PanelHeader';
import { ErrorBox, SidePanel, useSignal } from '../components/panel';
import { VirtualList } from '../components/VirtualList';
import { ModelsModel } from './model';

const ROW_HEIGHT = 46;

function splitList(text: string): string[] {
  return text
    .split(',')
    .map(t => t.trim())
    .filter(Boolean);
}

/** "published" (★) or "draft" as a small badge. */
export function PublishedBadge(props: { model: IModel }): JSX.Element {
  return props.model.published ? (
    <span className="lt-badge lt-model-published" title="Published: immutable">
      ★ published
    </span>
  ) : (
    <span className="lt-badge lt-model-draft" title="Not published: weights and metadata can change">
      draft
    </span>
  );
}

function ModelRow(props: { model: IModel; open: (id: string) => void }): JSX.Element {
  const { model: m, open } = props;
  return (
    <div
      className="lt-model-row"
      data-model-id={m.id}
      onClick={() => open(m.id)}
      title={`${m.project} / ${m.name} (${m.id})${m.comment ? `\n${m.comment}` : ''}`}
    >
      <div className="lt-task-text">
        <div className="lt-task-title-line">
          <span className="lt-task-name">{m.name}</span>
          {m.framework && <span className="lt-model-framework">{m.framework}</span>}
          {m.published && (
            <span className="lt-status lt-status-published" title="published">
              ★
            </span>
          )}
        </div>
        <div className="lt-task-meta">
          <span>{m.project}</span>
          <span>{relativeTime(m.created)}</span>
          {!m.uri && <span className="lt-dim">no weights</span>}
          {m.tags.slice(0, 3).map(tag => (
            <span key={tag} className="lt-tag">
              {tag}
            </span>
          ))}
        </div>
      </div>
    </div>
  );
}

/** A comma-separated list input applied on Enter or when it loses focus. */
function ListInput(props: {
  value: string[];
  placeholder: string;
  className: string;
  suggestions?: string[];
  onApply: (list: string[]) => void;
}): JSX.Element {
  const [text, setText] = React.useState(props.value.join(', '));
  React.useEffect(() => setText(props.value.join(', ')), [props.value.join(',')]);
  const apply = () => {
    const list = splitList(text);
    if (list.join(',') !== props.value.join(',')) {
      props.onApply(list);
    }
  };
  const listId = props.suggestions ? `${props.className}-options` : undefined;
  return (
    <>
      <input
        className={`lt-input ${props.className}`}
        placeholder={props.placeholder}
        value={text}
        list={listId}
        onChange={event => setText(event.target.value)}
        onBlur={apply}
        onKeyDown={event => event.key === 'Enter' && apply()}
      />
      {listId && (
        <datalist id={listId}>
          {props.suggestions!.map(s => (
            <option key={s} value={s} />
          ))}
        </datalist>
      )}
    </>
  );
}

export function ModelsSidebarView(props: {
  model: ModelsModel;
  openModel: (id: string) => void;
}): JSX.Element {
  const { model, openModel } = props;
  useSignal(model.changed);
  const [search, setSearch] = React.useState(model.query.search);
  const timer = React.useRef<number | null>(null);
  const onSearch = (value: string) => {
    setSearch(value);
    if (timer.current !== null) {
      window.clearTimeout(timer.current);
    }
    timer.current = window.setTimeout(() => void model.setQuery({ search: value }), 250);
  };
  const q = model.query;
  const filtered = !!(q.project || q.search || q.tags.length || q.frameworks.length);
  let body: JSX.Element;
  if (model.error) {
    body = (
      <ErrorBox
        title="labtrack cannot load the model registry"
        message={model.error}
        onRetry={() => void model.load()}
      />
    );
  } else if (!model.loading && model.models.length === 0) {
    body = (
      <div className="lt-empty">
        {filtered ? (
          'No models match these filters.'
        ) : (
          <>
            No models registered yet. In a task, <code>OutputModel(task, name=…)</code> and{' '}
            <code>update_weights(path)</code> register one.
          </>
        )}
      </div>
    );
  } else {
    body = (
      <VirtualList
        items={model.models}
        rowHeight={ROW_HEIGHT}
        className="lt-model-list"
        onNearEnd={() => void model.loadMore()}
        renderRow={m => <ModelRow model={m} open={openModel} />}
      />
    );
  }
  return (
    <div className="lt-panel lt-models">
      <PanelHeader
        title="Models"
        stale={model.stale}
        refreshTitle="Reload the model registry"
        onRefresh={() => void model.load()}
        onRetry={() => void model.reload()}
      />
      <div className="lt-filters">
        <ProjectFilter
          className="lt-model-project"
          label="Model project"
          value={q.project}
          projects={model.projects}
          onChange={project => void model.setQuery({ project })}
        />
        <input
          className="lt-input lt-model-search"
          type="search"
          placeholder="Search models"
          value={search}
          onChange={event => onSearch(event.target.value)}
        />
        <div className="lt-row">
          <ListInput
            className="lt-model-tags"
            placeholder="Tags (all must match)"
            value={q.tags}
            onApply={tags => void model.setQuery({ tags })}
          />
        </div>
        <div className="lt-row">
          <ListInput
            className="lt-model-frameworks"
            placeholder="Frameworks (any)"
            value={q.frameworks}
            suggestions={model.frameworks()}
            onApply={frameworks => void model.setQuery({ frameworks })}
          />
        </div>
      </div>
      <CountBar
        count={model.models.length}
        more={!!model.nextCursor}
        noun="model"
        loading={model.loading}
      />
      {body}
    </div>
  );
}

export class ModelsSidebar extends SidePanel {
  constructor(
    readonly model: ModelsModel,
    private readonly openModel: (id: string) => void
  ) {
    super();
    this.id = 'labtrack-models';
    this.addClass('lt-panel-widget');
    this.title.caption = 'labtrack models';
  }

  render(): JSX.Element {
    return <ModelsSidebarView model={this.model} openModel={this.openModel} />;
  }
}
