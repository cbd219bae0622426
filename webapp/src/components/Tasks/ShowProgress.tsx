import type { TaskStatus } from "../../api/types";
import { formatPercent } from "../../format";

export interface ShowProgressProps {
  progress: number;
  status: TaskStatus;
}

/** The task's progress, 0 to 100 %, coloured like its status. */
export function ShowProgress({ progress, status }: ShowProgressProps) {
  const percent = formatPercent(progress);
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100}
      aria-valuenow={Math.round(progress * 100)} aria-label={`progress ${percent}`}>
      <div className={`progress__fill progress__fill--${status}`} style={{ width: percent }} />
      <span className="progress__label">{percent}</span>
    </div>
  );
}
