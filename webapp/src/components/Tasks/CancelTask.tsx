import { useState, type MouseEvent } from "react";
import { ApiError } from "../../api/client";
import type { Task } from "../../api/types";

export interface CancelTaskProps {
  task: Task;
  onCancel: (taskId: string) => Promise<unknown>;
  /** A small button for table rows. */
  compact?: boolean;
}

/** "Cancel" for a queued or processing task; nothing for a finished one. */
export function CancelTask({ task, onCancel, compact = false }: CancelTaskProps) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  if (task.status !== "queued" && task.status !== "processing") return null;

  const cancel = (event: MouseEvent<HTMLButtonElement>): void => {
    event.stopPropagation(); // a click on the row's button does not also select the row
    setBusy(true);
    setProblem(null);
    onCancel(task.task_id)
      .catch((reason: unknown) => {
        if (reason instanceof ApiError && reason.status === 409) setProblem("It had already finished.");
        else if (reason instanceof ApiError && reason.isRateLimited) setProblem("Too many requests; try again soon.");
        else setProblem(reason instanceof ApiError ? reason.detail : "The cancel failed.");
      })
      .finally(() => setBusy(false));
  };

  return (
    <span className="cancel">
      <button
        type="button"
        className={compact ? "button button--danger button--small" : "button button--danger"}
        onClick={cancel}
        disabled={busy}
        aria-busy={busy}
        aria-label={`Cancel task ${task.task_id}`}
        title={problem ?? "Cancel this task"}
      >
        {/* A row's button keeps its width (its column is sized for "Cancel"); dimmed says busy. */}
        {busy && !compact ? "Cancelling…" : "Cancel"}
      </button>
      {problem !== null && !compact && <span role="alert" className="field-error">{problem}</span>}
    </span>
  );
}
