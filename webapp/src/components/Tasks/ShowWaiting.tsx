import type { Task } from "../../api/types";
import { shortId, waitingText } from "../../format";

export interface ShowWaitingProps {
  task: Task;
}

/** "waiting for 2 tasks" while a queued task's dependencies have not all completed; nothing otherwise. */
export function ShowWaiting({ task }: ShowWaitingProps) {
  const text = waitingText(task);
  if (text === null) return null;
  return (
    <span className="waiting" data-testid="waiting" title={`Waiting for ${task.waiting_for.map(shortId).join(", ")}`}>
      {text}
    </span>
  );
}
