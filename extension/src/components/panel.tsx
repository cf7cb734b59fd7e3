/**
 * Pieces every labtrack panel uses: re-render on a model's signal, a refresh that runs only
 * while the panel is visible (and the browser tab is in front), and error / empty states.
 */
import * as React from 'react';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { ReactWidget } from '@jupyterlab/ui-components';

/** A left-area panel that says when it is shown (it loads on its first show). */
export abstract class SidePanel extends ReactWidget {
  get shown(): ISignal<this, void> {
    return this._shown;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._shown.emit();
  }

  private _shown = new Signal<this, void>(this);
}

/** Re-render whenever `signal` fires. */
export function useSignal<T>(signal: ISignal<T, void>): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setVersion(v => v + 1);
    signal.connect(bump);
    return () => {
      signal.disconnect(bump);
    };
  }, [signal]);
  return version;
}

/**
 * A timer for a panel's live refresh: `tick` runs every `seconds` while `isVisible()` and the
 * browser tab is shown; a tick still running is never started twice.
 */
export class VisiblePoller {
  constructor(private readonly tick: () => Promise<void>) {}

  start(seconds: number, isVisible: () => boolean): void {
    this.stop();
    this._timer = window.setInterval(
      () => {
        if (this._busy || !isVisible() || document.hidden) {
          return;
        }
        this._busy = true;
        void this.tick().finally(() => {
          this._busy = false;
        });
      },
      Math.max(1, seconds) * 1000
    );
  }

  stop(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _timer: number | null = null;
  private _busy = false;
}

/** The message of a failed request, in the server's words. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** Where a list or view would be: what went wrong and a Retry button. */
export function ErrorBox(props: {
  title: string;
  message: string;
  onRetry?: () => void;
}): JSX.Element {
  return (
    <div className="lt-error" role="alert">
      <div className="lt-error-title">{props.title}</div>
      <div className="lt-error-message">{props.message}</div>
      {props.onRetry && (
        <button className="lt-button" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** The "stale" badge: rows kept after a refresh failed; click to retry. */
export function StaleBadge(props: { reason: string | null; onRetry: () => void }): JSX.Element | null {
  if (!props.reason) {
    return null;
  }
  return (
    <button
      className="lt-stale"
      title={`Showing the last rows loaded: the latest refresh failed (${props.reason}). Click to retry.`}
      onClick={props.onRetry}
    >
      stale
    </button>
  );
}

/** A tab strip (the task view's look). */
export function Tabs<T extends string>(props: {
  tabs: T[];
  current: T;
  onChange: (tab: T) => void;
  counts?: Partial<Record<T, number | string>>;
}): JSX.Element {
  return (
    <div className="lt-tabs" role="tablist">
      {props.tabs.map(name => (
        <button
          key={name}
          role="tab"
          aria-selected={props.current === name}
          className={`lt-tab ${props.current === name ? 'lt-tab-on' : ''}`}
          data-tab={name}
          onClick={() => props.onChange(name)}
        >
          {name}
          {props.counts?.[name] !== undefined && (
            <span className="lt-tab-count"> {props.counts[name]}</span>
          )}
        </button>
      ))}
    </div>
  );
}
