import { useState } from "react";
import { ApiError } from "../../api/client";
import type { Schedule } from "../../api/types";
import { formatMoment, humanize, shortId } from "../../format";

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
        // One item a schedule, its facts under its name: the side panel is too narrow for
        // a table of six columns, and a cron expression with its time zone is long.
        <ul className="schedule-list">
          {schedules.map((schedule) => (
            <li key={schedule.name} className="schedule" data-testid={`schedule-${schedule.name}`}>
              <div className="schedule__head">
                <span className="mono schedule__name">{schedule.name}</span>
                <span>{humanize(schedule.task_type)}</span>
                <button type="button" className="button button--danger button--small"
                  aria-label={`Delete schedule ${schedule.name}`} onClick={() => remove(schedule.name)}>
                  Delete
                </button>
              </div>
              <dl className="facts schedule__facts">
                <dt>When</dt>
                <dd>{timingText(schedule)}</dd>
                <dt>Next run</dt>
                <dd>{formatMoment(schedule.next_run_at)}</dd>
                <dt>Last task</dt>
                <dd className="mono">{schedule.last_task_id === null ? "–" : shortId(schedule.last_task_id)}</dd>
              </dl>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
