/**
 * The task view's Hyperparameters tab: the sections and configuration texts; for a draft
 * (status created, e.g. a clone) the values can be edited before it is enqueued, as in
 * ClearML, so an agent runs it with the new values (`PATCH /tasks/{id}` replaces the sections
 * it names).
 */
import * as React from 'react';

import { patchTask } from '../api';
import { IHyperParam, ITask } from '../tokens';
import { errorText } from '../components/panel';

type Sections = Record<string, Record<string, IHyperParam>>;

/** The sections in which a value differs from `before`, whole (the server replaces a section). */
export function changedSections(
  before: Sections,
  edits: Record<string, string>
): Sections {
  const out: Sections = {};
  for (const [section, values] of Object.entries(before)) {
    let changed = false;
    const next: Record<string, IHyperParam> = {};
    for (const [name, p] of Object.entries(values)) {
      const edited = edits[`${section}/${name}`];
      changed = changed || (edited !== undefined && edited !== p.value);
      next[name] = edited === undefined ? p : { ...p, value: edited };
    }
    if (changed) {
      out[section] = next;
    }
  }
  return out;
}

export function HyperparamsTab(props: { task: ITask; onSaved: () => void }): JSX.Element {
  const { task, onSaved } = props;
  const [editing, setEditing] = React.useState(false);
  const [edits, setEdits] = React.useState<Record<string, string>>({});
  const [saving, setSaving] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const sections = Object.entries(task.hyperparams ?? {});
  const config = Object.entries(task.configuration ?? {});
  const editable = task.status === 'created' && sections.length > 0;
  React.useEffect(() => {
    if (!editable) {
      setEditing(false);
    }
  }, [editable]);
  if (!sections.length && !config.length) {
    return <div className="lt-empty">No hyperparameters were connected to this experiment.</div>;
  }
  const save = () => {
    const patch = changedSections(task.hyperparams ?? {}, edits);
    if (!Object.keys(patch).length) {
      setEditing(false);
      return;
    }
    setSaving(true);
    patchTask(task.id, { hyperparams: patch })
      .then(() => {
        setEditing(false);
        setEdits({});
        setError(null);
        onSaved();
      })
      .catch(reason => setError(errorText(reason)))
      .finally(() => setSaving(false));
  };
  return (
    <div className="lt-hparams">
      {editable && (
        <div className="lt-row lt-hparams-bar">
          {editing ? (
            <>
              <button className="lt-button lt-accept lt-hparams-save" disabled={saving} onClick={save}>
                Save
              </button>
              <button
                className="lt-button"
                onClick={() => {
                  setEditing(false);
                  setEdits({});
                  setError(null);
                }}
              >
                Cancel
              </button>
            </>
          ) : (
            <button
              className="lt-button lt-hparams-edit"
              title="Change values before enqueueing this draft (an agent runs it with them)"
              onClick={() => setEditing(true)}
            >
              Edit
            </button>
          )}
          <span className="lt-dim">A draft: its values can change until it runs.</span>
        </div>
      )}
      {error && <div className="lt-error-message">{error}</div>}
      {sections.map(([section, values]) => (
        <div key={section}>
          <h3>{section}</h3>
          <table className="lt-table">
            <tbody>
              {Object.entries(values).map(([name, p]) => {
                const key = `${section}/${name}`;
                return (
                  <tr key={name} data-param={key}>
                    <th>{name}</th>
                    <td>
                      {editing ? (
                        <input
                          className="lt-input lt-hparam-input"
                          aria-label={key}
                          value={edits[key] ?? p.value}
                          onChange={event => setEdits({ ...edits, [key]: event.target.value })}
                          onKeyDown={event => event.key === 'Enter' && save()}
                        />
                      ) : (
                        p.value
                      )}
                    </td>
                    <td className="lt-dim">{p.type}</td>
                    <td className="lt-dim">{p.description}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ))}
      {config.map(([name, entry]) => (
        <div key={name}>
          <h3>Configuration: {name}</h3>
          <pre className="lt-code">{entry.value}</pre>
        </div>
      ))}
    </div>
  );
}
