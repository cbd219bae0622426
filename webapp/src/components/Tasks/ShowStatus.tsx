import type { TaskStatus } from "../../api/types";

export interface ShowStatusProps {
  status: TaskStatus;
}

/** A coloured pill with the status's name. */
export function ShowStatus({ status }: ShowStatusProps) {
  return <span className={`badge badge--${status}`}>{status}</span>;
}
