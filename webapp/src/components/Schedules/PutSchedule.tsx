import { useId, useMemo, useState, type ReactNode } from "react";
import { ApiError, putSchedule, type ScheduleTiming, type TaskDraft } from "../../api/client";
import type { Schedule } from "../../api/types";
import type { TaskForm } from "../../state/taskForms";
import { SubmitTask } from "../Submit/SubmitTask";

export interface PutScheduleProps {
  /** The same forms the submit panel uses, from the API's description. */
  forms: readonly TaskForm[] | null;
  problem?: string | null;
  retryAt?: number | null;
  /** Called with the schedule once the server saved it. */
  onSaved?: (schedule: Schedule) => void;
  onRateLimited?: (error: ApiError) => void;
  /** Test seam: how to put the schedule. */
  put?: typeof putSchedule;
}

type Mode = "every" | "cron";

/**
 * What `POST /tasks` takes but `PUT /schedules/{name}` does not: a scheduled task is made
 * anew at each due time, so it has no other task to wait for.
 */
const TASK_ONLY_OPTIONS: ReadonlySet<string> = new Set(["depends_on"]);

function scheduleForm(form: TaskForm): TaskForm {
  return { ...form, options: form.options.filter((field) => !TASK_ONLY_OPTIONS.has(field.path)) };
}

/**
 * A schedule's name and timing (every N seconds, or a cron expression in a time zone),
 * above the submit form's task type, parameters and options.
 */
export function PutSchedule({ forms, problem = null, retryAt = null, onSaved, onRateLimited, put = putSchedule }: PutScheduleProps) {
  const [name, setName] = useState("");
  const [mode, setMode] = useState<Mode>("every");
  const [every, setEvery] = useState("60");
  const [cron, setCron] = useState("0 * * * *");
  const [timezone, setTimezone] = useState("UTC");
  const ids = useId();
  const scheduleForms = useMemo(() => forms?.map(scheduleForm) ?? null, [forms]);

  const send = async (draft: TaskDraft): Promise<{ task_id: string }> => {
    // The server judges the values, and its 400 names the field that is wrong.
    const timing: ScheduleTiming = mode === "every" ? { every: Number(every) } : { cron, timezone };
    const saved = await put(name.trim(), draft, timing);
    onSaved?.(saved);
    return { task_id: saved.name };
  };

  const field = (label: string, id: string, input: ReactNode) => (
    <div className="field field--compact">
      <label htmlFor={id}>{label}</label>
      {input}
    </div>
  );
  const extra = (
    <fieldset className="options">
      <legend>Schedule</legend>
      <div className="options__row options__row--schedule">
        {field("Name", `${ids}-name`, (
          <input id={`${ids}-name`} type="text" autoComplete="off" value={name} placeholder="nightly-report"
            title="1 to 100 of a-z 0-9 _ -" onChange={(event) => setName(event.target.value)} />
        ))}
        {field("Runs", `${ids}-mode`, (
          <select id={`${ids}-mode`} value={mode} onChange={(event) => setMode(event.target.value as Mode)}>
            <option value="every">every N seconds</option>
            <option value="cron">cron times</option>
          </select>
        ))}
        {mode === "every" && field("Every (seconds)", `${ids}-every`, (
          <input id={`${ids}-every`} type="text" inputMode="numeric" autoComplete="off" value={every}
            onChange={(event) => setEvery(event.target.value)} />
        ))}
        {mode === "cron" && field("Cron", `${ids}-cron`, (
          <input id={`${ids}-cron`} type="text" autoComplete="off" className="mono" value={cron}
            title="minute hour day-of-month month day-of-week" onChange={(event) => setCron(event.target.value)} />
        ))}
        {mode === "cron" && field("Time zone", `${ids}-timezone`, (
          <input id={`${ids}-timezone`} type="text" autoComplete="off" value={timezone} title="An IANA name"
            onChange={(event) => setTimezone(event.target.value)} />
        ))}
      </div>
    </fieldset>
  );

  return (
    <SubmitTask forms={scheduleForms} problem={problem} retryAt={retryAt} onRateLimited={onRateLimited}
      send={send} title="Add a schedule" verb="Schedule" extra={extra}
      acceptedText={(saved) => <>Saved <span className="mono">{saved}</span></>} />
  );
}
