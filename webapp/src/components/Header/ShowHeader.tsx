import type { ConnectionState } from "../../hooks/useEvents";
import { ForgetKey } from "../Access/ForgetKey";
import { ShowConnection } from "../Connection/ShowConnection";

export interface ShowHeaderProps {
  /** The event stream's state; null while the monitor waits for a key. */
  connection: ConnectionState | null;
  /**
   * How to offer the metrics: a plain link while no key is needed; a button that reads
   * them with the key (a tab opened on the link sends none); nothing while a key is asked
   * for, or for a key that may not read them.
   */
  metrics: "link" | "button" | "none";
  onShowMetrics?: () => void;
  /** Offered while a key is held. */
  onForgetKey?: (() => void) | null;
}

/** The title, the links, the connection state and the key. */
export function ShowHeader({ connection, metrics, onShowMetrics, onForgetKey = null }: ShowHeaderProps) {
  return (
    <header className="topbar">
      <h1>Task Manager <span className="muted">monitor</span></h1>
      <nav className="topbar__links">
        <a href="/docs">API docs</a>
        {metrics === "link" && <a href="/metrics">Metrics</a>}
        {metrics === "button" && (
          <button type="button" className="button button--link" onClick={onShowMetrics}>Metrics</button>
        )}
        {onForgetKey !== null && <ForgetKey onForget={onForgetKey} />}
        {connection !== null && <ShowConnection state={connection} />}
      </nav>
    </header>
  );
}
