/**
 * What a page or a tab reads from the server when it opens (and again on Retry / Refresh), and
 * what it shows until that is there.
 */
import * as React from 'react';

import { errorText, ErrorBox } from './panel';

export interface IFetched<T> {
  /** The last value read, or null before the first answer. */
  value: T | null;
  /** The last read's failure, in the server's words, or null. */
  error: string | null;
  reload: () => void;
}

/** Read with `fetch` now and whenever `key` changes; `onLoaded` sees every value read. */
export function useFetched<T>(
  key: string,
  fetch: () => Promise<T>,
  onLoaded?: (value: T) => void
): IFetched<T> {
  const [value, setValue] = React.useState<T | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const reload = React.useCallback(() => {
    fetch()
      .then(found => {
        setValue(found);
        setError(null);
        onLoaded?.(found);
      })
      .catch(reason => setError(errorText(reason)));
  }, [key]);
  React.useEffect(reload, [reload]);
  return { value, error, reload };
}

/** In place of what is not read yet: the failure with a Retry button, else a loading line. */
export function Pending(props: {
  error: string | null;
  errorTitle: string;
  onRetry: () => void;
  loading?: string;
}): JSX.Element {
  return props.error ? (
    <ErrorBox title={props.errorTitle} message={props.error} onRetry={props.onRetry} />
  ) : (
    <div className="lt-empty">{props.loading ?? 'Loading…'}</div>
  );
}
