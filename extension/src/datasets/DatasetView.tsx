/**
 * A dataset version's page in the main area: what it is, a ready-to-paste `Dataset.get(...)`,
 * and tabs for its files, lineage, diff against its parent and the tasks that used it.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { getDataset, getDatasetLineage } from '../api';
import { dateTime, shortId } from '../format';
import { IDataset } from '../tokens';
import { errorText, ErrorBox, Tabs } from '../components/panel';
import { pyString, Snippet } from '../components/Snippet';
import { DiffTab, FilesTab, UsersTab } from './DatasetTabs';
import { LineageGraph } from './LineageGraph';
import { filesAndSize, StateBadge } from './Sidebar';

type Tab = 'Files' | 'Lineage' | 'Diff' | 'Used by';
const TABS: Tab[] = ['Files', 'Lineage', 'Diff', 'Used by'];

/** What opening a dataset needs from the plugin. */
export interface IDatasetViewHooks {
  openDataset(id: string): void;
  openTask(id: string): void;
}

/** The SDK call that fetches this version (labtrack/sdk/datasets.py: `Dataset.get`). */
export function datasetSnippet(d: IDataset): string {
  const args = [
    `dataset_project=${pyString(d.project)}`,
    `dataset_name=${pyString(d.name)}`,
    `version=${pyString(d.version)}`
  ];
  // A draft is found only with include_drafts, and has no local copy until it is finalized.
  const draft = d.state === 'draft';
  if (draft) {
    args.push('include_drafts=True');
  }
  const use = draft ? 'files = ds.list_files()' : 'folder = ds.get_local_copy()';
  return `from labtrack import Dataset\n\nds = Dataset.get(${args.join(', ')})\n${use}`;
}

function Lineage(props: { dataset: IDataset; hooks: IDatasetViewHooks }): JSX.Element {
  const { dataset, hooks } = props;
  const [items, setItems] = React.useState<IDataset[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const load = React.useCallback(() => {
    getDatasetLineage(dataset.id)
      .then(found => {
        setItems(found);
        setError(null);
      })
      .catch(reason => setError(errorText(reason)));
  }, [dataset.id]);
  React.useEffect(load, [load]);
  if (error) {
    return <ErrorBox title="Cannot read the lineage" message={error} onRetry={load} />;
  }
  if (!items) {
    return <div className="lt-empty">Loading…</div>;
  }
  return (
    <div className="lt-ds-lineage-tab">
      <div className="lt-dim">
        {items.length === 1
          ? 'This version has no parents: it starts its lineage.'
          : `${items.length - 1} ancestor${items.length === 2 ? '' : 's'}; click one to open it.`}
      </div>
      <div className="lt-lineage-scroll">
        <LineageGraph items={items} openDataset={hooks.openDataset} />
      </div>
    </div>
  );
}

export function DatasetViewBody(props: {
  datasetId: string;
  hooks: IDatasetViewHooks;
  onTitle: (d: IDataset) => void;
}): JSX.Element {
  const { datasetId, hooks, onTitle } = props;
  const [dataset, setDataset] = React.useState<IDataset | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [tab, setTab] = React.useState<Tab>('Files');
  const load = React.useCallback(() => {
    getDataset(datasetId)
      .then(d => {
        setDataset(d);
        setError(null);
        onTitle(d);
      })
      .catch(reason => setError(errorText(reason)));
  }, [datasetId]);
  React.useEffect(load, [load]);

  if (!dataset) {
    return error ? (
      <ErrorBox title="Cannot open this dataset version" message={error} onRetry={load} />
    ) : (
      <div className="lt-empty">Loading dataset {shortId(datasetId)}…</div>
    );
  }
  const d = dataset;
  return (
    <div className="lt-page lt-dataset-view" data-dataset-id={d.id}>
      <div className="lt-page-header">
        <span className="lt-page-title">
          {d.name} <span className="lt-ds-version-label">v{d.version}</span>
        </span>
        <StateBadge dataset={d} />
        <code className="lt-short-id" title={d.id}>
          {shortId(d.id)}
        </code>
        <span className="lt-dim">{d.project}</span>
        <span className="lt-spacer" />
        <button className="lt-button" onClick={load}>
          Refresh
        </button>
      </div>
      {error && <div className="lt-error-message">{error}</div>}
      <div className="lt-ds-summary">
        <span className="lt-ds-files">{filesAndSize(d)}</span>
        <span>by {d.user || '—'}</span>
        <span>created {dateTime(d.created)}</span>
        {d.finalized && <span>finalized {dateTime(d.finalized)}</span>}
        {d.description && <span className="lt-ds-description">{d.description}</span>}
      </div>
      <Snippet code={datasetSnippet(d)} label="the Dataset.get call" />
      <Tabs tabs={TABS} current={tab} onChange={setTab} />
      <div className="lt-tab-body">
        {tab === 'Files' && <FilesTab dataset={d} />}
        {tab === 'Lineage' && <Lineage dataset={d} hooks={hooks} />}
        {tab === 'Diff' && <DiffTab dataset={d} openDataset={hooks.openDataset} />}
        {tab === 'Used by' && <UsersTab dataset={d} openTask={hooks.openTask} />}
      </div>
    </div>
  );
}

/** The main-area widget of one version (the layout restorer reopens it by `datasetId`). */
export class DatasetViewWidget extends MainAreaWidget {
  constructor(
    readonly itemId: string,
    hooks: IDatasetViewHooks
  ) {
    let widget: DatasetViewWidget | null = null;
    const content = ReactWidget.create(
      <DatasetViewBody
        datasetId={itemId}
        hooks={hooks}
        onTitle={d => {
          if (widget) {
            widget.title.label = `${d.name} v${d.version}`;
            widget.title.caption = `${d.project} / ${d.name} version ${d.version} (${d.state})\n${d.id}`;
          }
        }}
      />
    );
    content.addClass('lt-page-content');
    super({ content });
    widget = this;
    this.id = `labtrack-dataset-${itemId}`;
    this.title.label = `Dataset ${shortId(itemId)}`;
    this.title.closable = true;
    this.addClass('lt-main');
  }
}
