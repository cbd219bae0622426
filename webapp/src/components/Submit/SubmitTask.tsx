import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, submitTask, type TaskDraft } from "../../api/client";
import type { SimulatedError, TaskType } from "../../api/types";
import { SIMULATED_ERRORS, TASK_TYPES } from "../../api/types";
import { humanize } from "../../format";
import { splitDetail, type FieldErrors } from "./fieldErrors";

export interface SubmitTaskProps {
  /** Called with the new task's id once the server accepted it. */
  onSubmitted?: (taskId: string) => void;
  /** Called on a 429 so the monitor can say when to retry. */
  onRateLimited?: (error: ApiError) => void;
  /** Test seam: how to send the submission. */
  send?: typeof submitTask;
}

/**
 * Numbers as typed, split on commas or spaces. A word that is not a number is sent as it
 * is, so the server (the one judge of valid input) names the exact element that is wrong.
 */
export function parseNumbers(text: string): (number | string)[] {
  return text
    .split(/[\s,;]+/)
    .filter((token) => token !== "")
    .map((token) => {
      const value = Number(token);
      return Number.isFinite(value) ? value : token;
    });
}

/** Sections as typed: a whole number when it is one, otherwise the text for the server to refuse. */
function parseSections(text: string): number | string {
  const value = Number(text);
  return text.trim() !== "" && Number.isInteger(value) ? value : text;
}

/** A form for each task type; the server's 400 `detail` is shown beside the field it names. */
export function SubmitTask({ onSubmitted, onRateLimited, send = submitTask }: SubmitTaskProps) {
  const [taskType, setTaskType] = useState<TaskType>("compute_sum");
  const [numbers, setNumbers] = useState("1, 2, 3");
  const [title, setTitle] = useState("Quarterly report");
  const [sections, setSections] = useState("3");
  const [errorKind, setErrorKind] = useState<SimulatedError>("value_error");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sending, setSending] = useState(false);
  const [accepted, setAccepted] = useState<string | null>(null);

  const draft = (): TaskDraft => {
    switch (taskType) {
      case "compute_sum":
        return { task_type: taskType, parameters: { numbers: parseNumbers(numbers) } };
      case "generate_report":
        return { task_type: taskType, parameters: { title, sections: parseSections(sections) } };
      case "simulate_error":
        return { task_type: taskType, parameters: { error: errorKind } };
    }
  };

  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    setSending(true);
    setErrors({});
    setAccepted(null);
    send(draft())
      .then((submitted) => {
        setAccepted(submitted.task_id);
        onSubmitted?.(submitted.task_id);
      })
      .catch((reason: unknown) => {
        if (!(reason instanceof ApiError)) {
          setErrors({ form: String(reason) });
          return;
        }
        if (reason.isRateLimited) onRateLimited?.(reason);
        setErrors(reason.status === 400 ? splitDetail(reason.detail) : { form: reason.detail });
      })
      .finally(() => setSending(false));
  };

  const chooseType = (next: TaskType): void => {
    setTaskType(next);
    setErrors({});
    setAccepted(null);
  };

  return (
    <section className="panel" aria-label="Submit a task">
      <header className="panel__header">
        <h2>Submit a task</h2>
      </header>
      <div className="tabs" role="tablist" aria-label="Task type">
        {TASK_TYPES.map((type) => (
          <button key={type} type="button" role="tab" aria-selected={taskType === type}
            className="tab" onClick={() => chooseType(type)}>
            {humanize(type)}
          </button>
        ))}
      </div>
      <form className="form" onSubmit={submit} noValidate aria-label={`Submit ${humanize(taskType)}`}>
        {taskType === "compute_sum" && (
          <Field id="numbers" label="Numbers" hint="Separated by commas or spaces" error={errors.numbers}>
            <input id="numbers" name="numbers" value={numbers} onChange={(event) => setNumbers(event.target.value)}
              aria-invalid={errors.numbers !== undefined} aria-describedby="numbers-error" />
          </Field>
        )}
        {taskType === "generate_report" && (
          <>
            <Field id="title" label="Title" hint="1 to 200 characters" error={errors.title}>
              <input id="title" name="title" value={title} onChange={(event) => setTitle(event.target.value)}
                aria-invalid={errors.title !== undefined} aria-describedby="title-error" />
            </Field>
            <Field id="sections" label="Sections" hint="1 to 10; 5 s each" error={errors.sections}>
              <input id="sections" name="sections" type="number" min={1} max={10} value={sections}
                onChange={(event) => setSections(event.target.value)}
                aria-invalid={errors.sections !== undefined} aria-describedby="sections-error" />
            </Field>
          </>
        )}
        {taskType === "simulate_error" && (
          <Field id="error" label="Error kind" hint="How the task will fail" error={errors.error}>
            <select id="error" name="error" value={errorKind}
              onChange={(event) => setErrorKind(event.target.value as SimulatedError)}
              aria-invalid={errors.error !== undefined} aria-describedby="error-error">
              {SIMULATED_ERRORS.map((kind) => (
                <option key={kind} value={kind}>{kind}</option>
              ))}
            </select>
          </Field>
        )}
        {errors.form !== undefined && <p className="field-error" role="alert" data-testid="form-error">{errors.form}</p>}
        <div className="form__actions">
          <button type="submit" className="button button--primary" disabled={sending}>
            {sending ? "Submitting…" : `Submit ${humanize(taskType).toLowerCase()}`}
          </button>
          {accepted !== null && (
            <span className="accepted" role="status">Queued <span className="mono">{accepted.slice(0, 8)}</span></span>
          )}
        </div>
      </form>
    </section>
  );
}

interface FieldProps {
  id: string;
  label: string;
  hint: string;
  error: string | undefined;
  children: ReactNode;
}

function Field({ id, label, hint, error, children }: FieldProps) {
  return (
    <div className={error === undefined ? "field" : "field field--invalid"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error === undefined ? (
        <span className="field-hint">{hint}</span>
      ) : (
        <span className="field-error" id={`${id}-error`} role="alert" data-testid={`${id}-error`}>{error}</span>
      )}
    </div>
  );
}
