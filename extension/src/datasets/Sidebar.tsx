/**
 * The Datasets left panel: projects, their datasets and each dataset's versions (state, files,
 * size), filtered by project and name; a click opens the version's page.
 */
import * as React from 'react';

import { bytes, relativeTime } from '../format';
import { IDataset } from '../tokens';
import { CountBar, PanelHeader, ProjectFilter } from '../components/PanelHeader';
import { ErrorBox, SidePanel, useSignal } from '../components/panel';
import { VirtualList } from '../components/VirtualList';
import { DatasetRow, DatasetsModel } from './model';

const ROW_HEIGHT = 34;

/** "final" or "draft", as a small badge. */
export function StateBadge(props: { dataset: IDataset }): JSX.Element {
  const { state } = props.dataset;
  return (
    <span
      className={`lt-badge lt-ds-state lt-ds-${state}`}
      title={state === 'final' ? 'Final: immutable' : 'Draft: files can still change'}
    >
      {state}
    </span>
  );
}

/** "12 files · 3.4 KB". */
export function filesAndSize(d: IDataset): string {
  return `${d.file_count.toLocaleString()} file${d.file_count === 1 ? '' : 's'} · ${bytes(d.total_size)}`;
}

function Row(props: {
  row: DatasetRow;
  model: DatasetsModel;
  openDataset: (id: string) => void;
}): JSX.Element {
  const { row, model, openDataset } = props;
  if (row.kind === 'project') {
    return (
      <div className="lt-ds-row lt-ds-project" data-project={row.project}>
        <span className="lt-ds-project-name">{row.project}</span>
        <span className="lt-dim">
          {row.datasets} dataset{row.datasets === 1 ? '' : 's'}
        </span>
      </div>
    );
  }
  if (row.kind === 'dataset') {
    const latest = row.versions[0];
    return (
      <div
        className="lt-ds-row lt-ds-dataset"
        data-dataset={row.name}
        role="button"
        aria-expanded={row.open}
        onClick={() => model.toggle(row.key, row.open)}
        title={`${row.project} / ${row.name}: ${row.versions.length} version(s)`}
      >
        <span className="lt-ds-caret">{row.open ? '▾' : '▸'}</span>
        <span className="lt-ds-name">{row.name}</span>
        <span className="lt-spacer" />
        <span className="lt-dim">
          {row.versions.length} version{row.versions.length === 1 ? '' : 's'} · {bytes(latest.total_size)}
        </span>
      </div>
    );
  }
  const d = row.dataset;
  return (
    <div
      className="lt-ds-row lt-ds-version"
      data-dataset-id={d.id}
      data-version={d.version}
      onClick={() => openDataset(d.id)}
      title={`${d.project} / ${d.name} version ${d.version} (${d.state}${row.latest ? ', the latest' : ''}), created ${relativeTime(d.created)}\n${d.id}${d.description ? `\n${d.description}` : ''}`}
    >
      <span className="lt-ds-version-label">v{d.version}</span>
      <StateBadge dataset={d} />
      <span className="lt-spacer" />
      <span className="lt-ds-files">{filesAndSize(d)}</span>
    </div>
  );
}

export function DatasetsSidebarView(props: {
  model: DatasetsModel;
  openDataset: (id: string) => void;
}): JSX.Element {
  const { model, openDataset } = props;
  useSignal(model.changed);
  const rows = model.rows();
  let body: JSX.Element;
  if (model.error) {
    body = (
      <ErrorBox
        title="labtrack cannot load datasets"
        message={model.error}
        onRetry={() => void model.load()}
      />
    );
  } else if (!model.loading && model.versions.length === 0) {
    body = (
      <div className="lt-empty">
        No datasets yet. Create one from Python with{' '}
        <code>Dataset.create(dataset_name=…, dataset_project=…)</code>, or with{' '}
        <code>labtrack data create</code>.
      </div>
    );
  } else if (!model.loading && rows.length === 0) {
    body = <div className="lt-empty">No datasets match this filter.</div>;
  } else {
    body = (
      <VirtualList
        items={rows}
        rowHeight={ROW_HEIGHT}
        className="lt-ds-list"
        renderRow={row => <Row row={row} model={model} openDataset={openDataset} />}
      />
    );
  }
  return (
    <div className="lt-panel lt-datasets">
      <PanelHeader
        title="Datasets"
        stale={model.stale}
        refreshTitle="Reload the dataset versions"
        onRefresh={() => void model.load()}
      />
      <div className="lt-filters">
        <ProjectFilter
          className="lt-ds-project-filter"
          label="Dataset project"
          value={model.project}
          projects={model.projects()}
          onChange={project => model.setFilter({ project })}
        />
        <input
          className="lt-input lt-ds-search"
          type="search"
          placeholder="Search datasets"
          value={model.search}
          onChange={event => model.setFilter({ search: event.target.value })}
        />
      </div>
      <CountBar
        count={model.versions.length}
        more={!model.complete}
        noun="version"
        loading={model.loading}
      />
      {body}
    </div>
  );
}

export class DatasetsSidebar extends SidePanel {
  constructor(
    readonly model: DatasetsModel,
    private readonly openDataset: (id: string) => void
  ) {
    super();
    this.id = 'labtrack-datasets';
    this.addClass('lt-panel-widget');
    this.title.caption = 'labtrack datasets';
  }

  render(): JSX.Element {
    return <DatasetsSidebarView model={this.model} openDataset={this.openDataset} />;
  }
}
