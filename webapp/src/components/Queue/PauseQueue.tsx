import { useState } from "react";
import { ApiError, setQueuePaused } from "../../api/client";

export interface PauseQueueProps {
  /** Whether the queue is paused, from `/stats`; null until known. */
  paused: boolean | null;
  /** Called once the server changed it, to read `/stats` again. */
  onChanged: () => void;
  /** Test seam: how to pause or resume. */
  set?: typeof setQueuePaused;
}

/** A banner while the queue is paused, and the button that pauses or resumes it. */
export function PauseQueue({ paused, onChanged, set = setQueuePaused }: PauseQueueProps) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  if (paused === null) return null;

  const toggle = (): void => {
    setBusy(true);
    setProblem(null);
    set(!paused)
      .then(onChanged)
      .catch((reason: unknown) => {
        if (reason instanceof ApiError && reason.status === 403) setProblem("Only an admin key may pause or resume the queue.");
        else setProblem(reason instanceof ApiError ? reason.detail : String(reason));
      })
      .finally(() => setBusy(false));
  };

  return (
    <div className={paused ? "notice notice--warning queue" : "queue queue--running"} role="status" data-testid="queue-state">
      <span>
        {paused
          ? "The queue is paused: no task starts until it resumes. Running tasks go on; new ones wait."
          : "The queue runs."}
        {problem !== null && <span className="field-error" role="alert"> {problem}</span>}
      </span>
      <button type="button" className={paused ? "button button--primary" : "button"} onClick={toggle} disabled={busy}>
        {paused ? "Resume the queue" : "Pause the queue"}
      </button>
    </div>
  );
}
