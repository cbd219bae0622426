import type { Task } from "../../api/types";
import { formatTime, waitText } from "../../format";

export interface ShowCountdownProps {
  task: Task;
  /** Epoch ms; the monitor ticks it every second while a task waits. */
  now: number;
}

/** "starts in 12 s" / "retry in 3 s" while a queued task waits for its run_at; nothing otherwise. */
export function ShowCountdown({ task, now }: ShowCountdownProps) {
  const text = waitText(task, now);
  if (text === null) return null;
  return (
    <span className="countdown" data-testid="countdown" title={`Not before ${formatTime(task.run_at)}`}>
      {text}
    </span>
  );
}
