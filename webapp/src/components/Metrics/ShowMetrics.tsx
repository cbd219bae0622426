import { useEffect, useState } from "react";
import { ApiError, getMetrics } from "../../api/client";

export interface ShowMetricsProps {
  onClose: () => void;
  /** Test seam: how to read the metrics. */
  load?: () => Promise<string>;
}

type Shown = { text: string } | { problem: string } | null;

/**
 * `GET /metrics` read with the key and shown in the page: a browser tab opened on the
 * link would send no `Authorization` header, and the server would answer 401.
 */
export function ShowMetrics({ onClose, load = getMetrics }: ShowMetricsProps) {
  const [shown, setShown] = useState<Shown>(null);
  useEffect(() => {
    let stopped = false;
    load().then(
      (text) => {
        if (!stopped) setShown({ text });
      },
      (reason: unknown) => {
        if (stopped) return;
        if (reason instanceof ApiError && reason.status === 403) setShown({ problem: "The metrics are for admin keys only." });
        else setShown({ problem: reason instanceof ApiError ? reason.detail : String(reason) });
      },
    );
    return () => {
      stopped = true;
    };
  }, [load]);

  return (
    <section className="panel" aria-label="Metrics">
      <header className="panel__header">
        <h2>Metrics</h2>
        <button type="button" className="button button--ghost" onClick={onClose} aria-label="Close metrics">
          ✕
        </button>
      </header>
      {shown === null && <p className="muted" role="status">Loading…</p>}
      {shown !== null && "problem" in shown && <p className="muted" role="status" data-testid="metrics-problem">{shown.problem}</p>}
      {shown !== null && "text" in shown && <pre className="json metrics" data-testid="metrics-text">{shown.text}</pre>}
    </section>
  );
}
