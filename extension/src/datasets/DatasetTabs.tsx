/**
 * The tabs of a dataset version's page: its files (paged from the server as you scroll, only
 * the rows in view drawn), the diff against a parent, and the tasks that used it.
 */
import * as React from 'react';

import { allDatasetFiles, getDataset, getDatasetUsers, listDatasetFiles } from '../api';
import { bytes, dateTime } from '../format';
import { IDataset, IDatasetFile } from '../tokens';
import { Pending, useFetched } from '../components/Fetched';
import { errorText, ErrorBox } from '../components/panel';
import { VirtualList } from '../components/VirtualList';
import { ChangeKind, diffManifests, IDiffSummary } from './diff';

const FILE_ROW = 24;
/** Manifest entries per request while scrolling. */
const FILES_PAGE = 2000;

export function FilesTab(props: { dataset: IDataset }): JSX.Element {
  const { dataset } = props;
  const [files, setFiles] = React.useState<IDatasetFile[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  // One pager per version (and content): a pager replaced mid-request drops its answer, and
  // only one page is asked for at a time, so no page is ever added twice.
  const pager = React.useMemo(
    () => ({ cursor: null as string | null, done: false, busy: false, current: true }),
    [dataset.id, dataset.file_count]
  );
  React.useEffect(() => {
    setFiles([]);
    return () => {
      pager.current = false;
    };
  }, [pager]);

  const loadMore = React.useCallback(() => {
    if (pager.busy || pager.done) {
      return;
    }
    pager.busy = true;
    listDatasetFiles(dataset.id, pager.cursor, FILES_PAGE)
      .then(page => {
        if (!pager.current) {
          return;
        }
        pager.cursor = page.next_cursor;
        pager.done = !page.next_cursor;
        setFiles(prev => prev.concat(page.items));
        setError(null);
      })
      .catch(reason => pager.current && setError(errorText(reason)))
      .finally(() => {
        pager.busy = false;
      });
  }, [pager]);
  React.useEffect(loadMore, [loadMore]);

  if (error && !files.length) {
    return <ErrorBox title="Cannot list the files" message={error} onRetry={loadMore} />;
  }
  if (dataset.file_count === 0) {
    return <div className="lt-empty">This version has no files.</div>;
  }
  return (
    <div className="lt-ds-files-tab">
      <div className="lt-dim lt-ds-files-count" data-loaded={files.length}>
        {files.length.toLocaleString()} of {dataset.file_count.toLocaleString()} files loaded
        {files.length < dataset.file_count ? ' (scroll for more)' : ''}
        {error ? ` · ${error}` : ''}
      </div>
      <VirtualList
        items={files}
        rowHeight={FILE_ROW}
        className="lt-ds-file-list"
        onNearEnd={loadMore}
        renderRow={file => (
          <div className="lt-ds-file" data-path={file.path} title={`${file.path}\nsha256 ${file.sha256}`}>
            <span className="lt-ds-path">{file.path}</span>
            <span className="lt-ds-size">{bytes(file.size)}</span>
          </div>
        )}
      />
    </div>
  );
}

const KIND_MARK: Record<ChangeKind, string> = { added: '+', removed: '−', changed: 'M' };

export function DiffTab(props: {
  dataset: IDataset;
  openDataset: (id: string) => void;
}): JSX.Element {
  const { dataset, openDataset } = props;
  const [parentId, setParentId] = React.useState(dataset.parents[0] ?? '');
  const [parent, setParent] = React.useState<IDataset | null>(null);
  const [diff, setDiff] = React.useState<IDiffSummary | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [shown, setShown] = React.useState<ChangeKind | ''>('');
  const load = React.useCallback(() => {
    if (!parentId) {
      return;
    }
    setDiff(null);
    setError(null);
    Promise.all([getDataset(parentId), allDatasetFiles(parentId), allDatasetFiles(dataset.id)])
      .then(([p, older, newer]) => {
        setParent(p);
        setDiff(diffManifests(older, newer));
      })
      .catch(reason => setError(errorText(reason)));
  }, [parentId, dataset.id]);
  React.useEffect(load, [load]);

  if (!dataset.parents.length) {
    return (
      <div className="lt-empty">
        This version has no parent, so there is nothing to compare it with: every file is new.
      </div>
    );
  }
  if (error) {
    return <ErrorBox title="Cannot compute the diff" message={error} onRetry={load} />;
  }
  const changes = diff ? diff.changes.filter(c => !shown || c.kind === shown) : [];
  return (
    <div className="lt-ds-diff-tab">
      <div className="lt-row lt-ds-diff-head">
        <span>Against</span>
        {dataset.parents.length > 1 ? (
          <select
            className="lt-select"
            value={parentId}
            onChange={event => setParentId(event.target.value)}
          >
            {dataset.parents.map(id => (
              <option key={id} value={id}>
                parent {id.slice(0, 8)}
              </option>
            ))}
          </select>
        ) : null}
        {parent && (
          <button className="lt-link" onClick={() => openDataset(parent.id)}>
            {parent.name} v{parent.version}
          </button>
        )}
        {!diff && <span className="lt-dim">comparing the manifests…</span>}
      </div>
      {diff && (
        <div className="lt-row lt-ds-diff-summary" role="group" aria-label="Show changes">
          {(['added', 'removed', 'changed'] as ChangeKind[]).map(kind => (
            <button
              key={kind}
              className={`lt-chip lt-ds-${kind} ${shown === kind ? 'lt-chip-on' : ''}`}
              data-kind={kind}
              data-count={diff[kind]}
              onClick={() => setShown(shown === kind ? '' : kind)}
            >
              {KIND_MARK[kind]} {diff[kind].toLocaleString()} {kind}
            </button>
          ))}
          <span className="lt-dim">{diff.unchanged.toLocaleString()} unchanged</span>
        </div>
      )}
      {diff && changes.length === 0 && (
        <div className="lt-empty">
          {shown ? `No ${shown} files.` : 'Same files as its parent.'}
        </div>
      )}
      {diff && changes.length > 0 && (
        <VirtualList
          items={changes}
          rowHeight={FILE_ROW}
          className="lt-ds-file-list"
          renderRow={change => (
            <div
              className={`lt-ds-file lt-ds-change lt-ds-${change.kind}`}
              data-path={change.path}
              data-kind={change.kind}
            >
              <span className="lt-ds-mark">{KIND_MARK[change.kind]}</span>
              <span className="lt-ds-path">{change.path}</span>
              <span className="lt-ds-size">
                {change.kind === 'changed'
                  ? `${bytes(change.oldSize)} → ${bytes(change.size)}`
                  : bytes(change.size)}
              </span>
            </div>
          )}
        />
      )}
    </div>
  );
}

export function UsersTab(props: {
  dataset: IDataset;
  openTask: (id: string) => void;
}): JSX.Element {
  const { dataset, openTask } = props;
  const {
    value: users,
    error,
    reload
  } = useFetched(dataset.id, () => getDatasetUsers(dataset.id));
  if (error || !users) {
    return <Pending error={error} errorTitle="Cannot list the tasks" onRetry={reload} />;
  }
  if (!users.length) {
    return (
      <div className="lt-empty">
        No task has used this version yet. Inside a task,{' '}
        <code>Dataset.get(…, alias="train")</code> records it as the task's input.
      </div>
    );
  }
  return (
    <table className="lt-table lt-ds-users">
      <thead>
        <tr>
          <th>task</th>
          <th>as</th>
          <th>recorded</th>
        </tr>
      </thead>
      <tbody>
        {users.map(u => (
          <tr key={`${u.task_id}-${u.alias}`} data-task-id={u.task_id}>
            <td>
              <button className="lt-link" onClick={() => openTask(u.task_id)}>
                {u.name}
              </button>
            </td>
            <td>
              <code>{u.alias}</code>
            </td>
            <td>{dateTime(u.recorded)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
