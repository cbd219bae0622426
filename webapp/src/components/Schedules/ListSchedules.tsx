import { useState } from "react";
import { ApiError } from "../../api/client";
import type { Schedule } from "../../api/types";
import { formatTime, humanize, shortId } from "../../format";

export interface ListSchedulesProps {
  /** Null while they load. */
  schedules: readonly Schedule[] | null;
  error?: string | null;
  onDelete: (name: string) => Promise<void>;
}

/** When a schedule is due, in words. */
export function timingText(schedule: Schedule): string {
  if (schedule.every !== null) return `every ${schedule.every} s`;
  return `${schedule.cron ?? ""} (${schedule.timezone ?? "UTC"})`;
}

/** The schedules, each with when it runs next and the task it made last, and a delete button. */
export function ListSchedules({ schedules, error = null, onDelete }: ListSchedulesProps) {
  const [problem, setProblem] = useState<string | null>(null);
  const remove = (name: string): void => {
    setProblem(null);
    onDelete(name).catch((reason: unknown) => {
      setProblem(reason instanceof ApiError ? reason.detail : "The delete failed.");
    });
  };
  return (
    <section className="panel" aria-label="Schedules">
      <header className="panel__header">
        <h2>Schedules</h2>
      </header>
      {error !== null && <p className="notice notice--warning" role="status">The schedules could not be read ({error}).</p>}
      {problem !== null && <p className="field-error" role="alert">{problem}</p>}
      {schedules === null && error === null && <p className="muted">Loading schedules…</p>}
      {schedules !== null && schedules.length === 0 && <p className="muted">No schedules yet. Add one below.</p>}
      {schedules !== null && schedules.length > 0 && (
        <table className="schedules">
          <thead>
            <tr><th>Name</th><th>Task</th><th>When</th><th>Next run</th><th>Last task</th><th /></tr>
          </thead>
          <tbody>
            {schedules.map((schedule) => (
              <tr key={schedule.name} data-testid={`schedule-${schedule.name}`}>
                <td className="mono">{schedule.name}</td>
                <td>{humanize(schedule.task_type)}</td>
                <td>{timingText(schedule)}</td>
                <td>{formatTime(schedule.next_run_at)}</td>
                <td className="mono">{schedule.last_task_id === null ? "–" : shortId(schedule.last_task_id)}</td>
                <td>
                  <button type="button" className="button button--danger button--small"
                    aria-label={`Delete schedule ${schedule.name}`} onClick={() => remove(schedule.name)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
