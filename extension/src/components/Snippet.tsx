/**
 * A ready-to-paste code snippet with a Copy button (JupyterLab's clipboard helper, so it works
 * where `navigator.clipboard` is not allowed too).
 */
import * as React from 'react';
import { Clipboard } from '@jupyterlab/apputils';

export function Snippet(props: { code: string; label: string }): JSX.Element {
  const { code, label } = props;
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => setCopied(false), [code]);
  return (
    <div className="lt-snippet">
      <pre className="lt-code lt-snippet-code">{code}</pre>
      <button
        className="lt-button lt-snippet-copy"
        title={`Copy ${label} to the clipboard`}
        onClick={() => {
          Clipboard.copyToSystem(code);
          setCopied(true);
        }}
      >
        {copied ? '✓ Copied' : 'Copy'}
      </button>
    </div>
  );
}

/** A Python string literal for `text` (double quotes, escaped). */
export function pyString(text: string): string {
  return JSON.stringify(text);
}
