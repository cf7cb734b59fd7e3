/**
 * A record's page in the main area (a dataset version, a model): the widget, which the layout
 * restorer reopens by `itemId` and whose tab is named once the record is read, and its header.
 */
import * as React from 'react';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

import { shortId } from '../format';

export interface IRecordPageOptions<T> {
  /** The widget id is `<idPrefix>-<itemId>`. */
  idPrefix: string;
  /** The tab's label until the record is read ("Model": "Model 1a2b3c"). */
  kind: string;
  /** The page's content; it calls `onRecord` with each record it reads. */
  render: (onRecord: (record: T) => void) => JSX.Element;
  /** The tab's label and caption for a record. */
  title: (record: T) => { label: string; caption: string };
}

export class RecordPage<T> extends MainAreaWidget {
  constructor(
    readonly itemId: string,
    options: IRecordPageOptions<T>
  ) {
    let page: RecordPage<T> | null = null;
    const content = ReactWidget.create(
      options.render(record => {
        if (page) {
          const { label, caption } = options.title(record);
          page.title.label = label;
          page.title.caption = caption;
        }
      })
    );
    content.addClass('lt-page-content');
    super({ content });
    page = this;
    this.id = `${options.idPrefix}-${itemId}`;
    this.title.label = `${options.kind} ${shortId(itemId)}`;
    this.title.closable = true;
    this.addClass('lt-main');
  }
}

/**
 * The page's top line: the title and badges (children), the short id, the project and Refresh;
 * below it the last refresh's failure (the record shown is then the one read before).
 */
export function PageHeader(props: {
  id: string;
  project: string;
  error: string | null;
  onRefresh: () => void;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <>
      <div className="lt-page-header">
        {props.children}
        <code className="lt-short-id" title={props.id}>
          {shortId(props.id)}
        </code>
        <span className="lt-dim">{props.project}</span>
        <span className="lt-spacer" />
        <button className="lt-button" onClick={props.onRefresh}>
          Refresh
        </button>
      </div>
      {props.error && <div className="lt-error-message">{props.error}</div>}
    </>
  );
}
