/**
 * A model's page in the main area: the task that made it and the tasks that used it, its
 * weights, labels, metadata and published state, and a ready-to-paste `InputModel(...)`.
 */
import * as React from 'react';

import { getModel } from '../api';
import { bytes, dateTime, shortId, statusLabel } from '../format';
import { IModelDetail } from '../tokens';
import { Pending, useFetched } from '../components/Fetched';
import { PageHeader, RecordPage } from '../components/RecordPage';
import { pyString, Snippet } from '../components/Snippet';
import { StatusIcon } from '../components/StatusIcon';
import { PublishedBadge } from './Sidebar';

/** The SDK call that loads this model (labtrack/sdk/models.py: `InputModel(model_id=...)`). */
export function modelSnippet(m: IModelDetail): string {
  return [
    'from labtrack import InputModel',
    '',
    `model = InputModel(model_id=${pyString(m.id)})  # ${m.project} / ${m.name}`,
    "# task.connect(model)  # inside a task: records it as the task's input",
    'path = model.get_local_copy()'
  ].join('\n');
}

function Section(props: { title: string; children: React.ReactNode }): JSX.Element {
  return (
    <div className="lt-section" data-section={props.title}>
      <h3>{props.title}</h3>
      {props.children}
    </div>
  );
}

function UsedBy(props: { model: IModelDetail; openTask: (id: string) => void }): JSX.Element {
  const { model: m, openTask } = props;
  if (!m.used_by.length) {
    return (
      <div className="lt-empty">
        No task has used this model yet: <code>task.connect(InputModel(…))</code> records it.
      </div>
    );
  }
  return (
    <>
      <table className="lt-table lt-model-users">
        <thead>
          <tr>
            <th>task</th>
            <th>status</th>
            <th>as</th>
            <th>recorded</th>
          </tr>
        </thead>
        <tbody>
          {m.used_by.map(u => (
            <tr key={`${u.task_id}-${u.link_name}`} data-task-id={u.task_id}>
              <td>
                <button className="lt-link" onClick={() => openTask(u.task_id)}>
                  {u.name}
                </button>
              </td>
              <td>
                <StatusIcon status={u.status} /> {statusLabel(u.status)}
              </td>
              <td>
                <code>{u.link_name}</code>
              </td>
              <td>{dateTime(u.recorded)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {m.used_by_count > m.used_by.length && (
        <div className="lt-dim">
          The {m.used_by.length} newest of {m.used_by_count} tasks.
        </div>
      )}
    </>
  );
}

function Overview(props: { model: IModelDetail; openTask: (id: string) => void }): JSX.Element {
  const { model: m, openTask } = props;
  const labels = Object.entries(m.labels).sort((a, b) => a[1] - b[1]);
  const metadata = Object.entries(m.metadata).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return (
    <>
      <table className="lt-kv lt-model-overview">
        <tbody>
          <tr>
            <th>made by</th>
            <td className="lt-model-task">
              {m.task ? (
                <button className="lt-link" onClick={() => openTask(m.task!.id)}>
                  {m.task.name ?? shortId(m.task.id)}
                </button>
              ) : (
                <span className="lt-dim">no task (registered directly, or its task was deleted)</span>
              )}
            </td>
          </tr>
          <tr>
            <th>framework</th>
            <td>{m.framework || '—'}</td>
          </tr>
          <tr>
            <th>project</th>
            <td>{m.project}</td>
          </tr>
          <tr>
            <th>weights</th>
            <td>
              {m.uri ? (
                <>
                  {m.filename} · {bytes(m.size)}{' '}
                  <code className="lt-dim" title={`sha256 ${m.sha256}`}>
                    sha256 {m.sha256?.slice(0, 12)}…
                  </code>
                </>
              ) : (
                <span className="lt-dim">none uploaded yet</span>
              )}
            </td>
          </tr>
          <tr>
            <th>published</th>
            <td>{m.published ? `yes, ${dateTime(m.published_at)}` : 'no'}</td>
          </tr>
          <tr>
            <th>user</th>
            <td>{m.user || '—'}</td>
          </tr>
          <tr>
            <th>created</th>
            <td>
              {dateTime(m.created)} (last change {dateTime(m.last_update)})
            </td>
          </tr>
          <tr>
            <th>tags</th>
            <td>
              {m.tags.length
                ? m.tags.map(t => (
                    <span key={t} className="lt-tag">
                      {t}
                    </span>
                  ))
                : '—'}
            </td>
          </tr>
          {m.comment && (
            <tr>
              <th>comment</th>
              <td>{m.comment}</td>
            </tr>
          )}
          <tr>
            <th>id</th>
            <td>
              <code>{m.id}</code>
            </td>
          </tr>
        </tbody>
      </table>
      <Section title="Used by">
        <UsedBy model={m} openTask={openTask} />
      </Section>
      <Section title="Labels">
        {labels.length ? (
          <table className="lt-table lt-model-labels">
            <thead>
              <tr>
                <th>label</th>
                <th>id</th>
              </tr>
            </thead>
            <tbody>
              {labels.map(([name, id]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <div className="lt-empty">No labels.</div>
        )}
      </Section>
      <Section title="Metadata">
        {metadata.length ? (
          <table className="lt-table lt-model-metadata">
            <thead>
              <tr>
                <th>key</th>
                <th>value</th>
                <th>type</th>
              </tr>
            </thead>
            <tbody>
              {metadata.map(([key, item]) => (
                <tr key={key} data-key={key}>
                  <td>{key}</td>
                  <td>{item.value}</td>
                  <td className="lt-dim">{item.type}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <div className="lt-empty">No metadata.</div>
        )}
      </Section>
    </>
  );
}

export function ModelViewBody(props: {
  modelId: string;
  openTask: (id: string) => void;
  onTitle: (m: IModelDetail) => void;
}): JSX.Element {
  const { modelId, openTask, onTitle } = props;
  const {
    value: model,
    error,
    reload: load
  } = useFetched(modelId, () => getModel(modelId), onTitle);
  if (!model) {
    return (
      <Pending
        error={error}
        errorTitle="Cannot open this model"
        onRetry={load}
        loading={`Loading model ${shortId(modelId)}…`}
      />
    );
  }
  return (
    <div className="lt-page lt-model-view" data-model-id={model.id}>
      <PageHeader id={model.id} project={model.project} error={error} onRefresh={load}>
        <span className="lt-page-title">{model.name}</span>
        <PublishedBadge model={model} />
        {model.framework && <span className="lt-model-framework">{model.framework}</span>}
      </PageHeader>
      <Snippet code={modelSnippet(model)} label="the InputModel call" />
      <div className="lt-tab-body">
        <Overview model={model} openTask={openTask} />
      </div>
    </div>
  );
}

/** The main-area page of one model (the layout restorer reopens it by `modelId`). */
export class ModelViewWidget extends RecordPage<IModelDetail> {
  constructor(itemId: string, openTask: (id: string) => void) {
    super(itemId, {
      idPrefix: 'labtrack-model',
      kind: 'Model',
      render: onRecord => <ModelViewBody modelId={itemId} openTask={openTask} onTitle={onRecord} />,
      title: m => ({
        label: `Model ${m.name}`,
        caption: `${m.project} / ${m.name}${m.published ? ' (published)' : ''}\n${m.id}`
      })
    });
  }
}
