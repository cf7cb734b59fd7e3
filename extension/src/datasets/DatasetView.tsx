/**
 * A dataset version's page in the main area: what it is, a ready-to-paste `Dataset.get(...)`,
 * and tabs for its files, lineage, diff against its parent and the tasks that used it.
 */
import * as React from 'react';

import { getDataset, getDatasetLineage } from '../api';
import { dateTime, shortId } from '../format';
import { IDataset } from '../tokens';
import { Pending, useFetched } from '../components/Fetched';
import { Tabs } from '../components/panel';
import { PageHeader, RecordPage } from '../components/RecordPage';
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
  const {
    value: items,
    error,
    reload
  } = useFetched(dataset.id, () => getDatasetLineage(dataset.id));
  if (error || !items) {
    return <Pending error={error} errorTitle="Cannot read the lineage" onRetry={reload} />;
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
  const [tab, setTab] = React.useState<Tab>('Files');
  const {
    value: d,
    error,
    reload: load
  } = useFetched(datasetId, () => getDataset(datasetId), onTitle);
  if (!d) {
    return (
      <Pending
        error={error}
        errorTitle="Cannot open this dataset version"
        onRetry={load}
        loading={`Loading dataset ${shortId(datasetId)}…`}
      />
    );
  }
  return (
    <div className="lt-page lt-dataset-view" data-dataset-id={d.id}>
      <PageHeader id={d.id} project={d.project} error={error} onRefresh={load}>
        <span className="lt-page-title">
          {d.name} <span className="lt-ds-version-label">v{d.version}</span>
        </span>
        <StateBadge dataset={d} />
      </PageHeader>
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

/** The main-area page of one version (the layout restorer reopens it by `datasetId`). */
export class DatasetViewWidget extends RecordPage<IDataset> {
  constructor(itemId: string, hooks: IDatasetViewHooks) {
    super(itemId, {
      idPrefix: 'labtrack-dataset',
      kind: 'Dataset',
      render: onRecord => <DatasetViewBody datasetId={itemId} hooks={hooks} onTitle={onRecord} />,
      title: d => ({
        label: `${d.name} v${d.version}`,
        caption: `${d.project} / ${d.name} version ${d.version} (${d.state})\n${d.id}`
      })
    });
  }
}
