import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, submitTask, type TaskDraft } from "../../api/client";
import { formatTime, humanize } from "../../format";
import { draftOf, splitDetail, type FieldErrors, type FieldTexts } from "../../state/taskDraft";
import type { TaskForm } from "../../state/taskForms";
import { EditField, ShowFieldError } from "./EditField";
import { ShowDescription, plainDescription } from "./ShowDescription";

export interface SubmitTaskProps {
  /** One form per task type, read from the API's description; null while it loads. */
  forms: readonly TaskForm[] | null;
  /** Why the task types could not be read yet, and when they are asked for again (epoch ms). */
  problem?: string | null;
  retryAt?: number | null;
  /** Called with the new task's id once the server accepted it. */
  onSubmitted?: (taskId: string) => void;
  /** Called on a 429 so the monitor can say when to retry. */
  onRateLimited?: (error: ApiError) => void;
  /** How to send the submission (a test seam; the schedules panel puts a schedule instead). */
  send?: (draft: TaskDraft) => Promise<{ task_id: string }>;
  /** The panel's title and the button's verb: "Submit a task" and "Submit" by default. */
  title?: string;
  verb?: string;
  /** Fields of the caller's own, shown above the task's (a schedule's name and timing). */
  extra?: ReactNode;
  /** What to say once accepted, given the id `send` answered. */
  acceptedText?: (id: string) => ReactNode;
}

/**
 * The submit form: a tab per task type and a field per parameter and job option, all from
 * the API's description. The server's 400 `detail` is shown beside the fields it names.
 */
export function SubmitTask({
  forms, problem = null, retryAt = null, onSubmitted, onRateLimited, send = submitTask,
  title = "Submit a task", verb = "Submit", extra = null, acceptedText = queuedText,
}: SubmitTaskProps) {
  const [chosen, setChosen] = useState<string | null>(null);
  // What was typed, by task type and field path; a field not typed in shows its initial text.
  const [texts, setTexts] = useState<Readonly<Record<string, FieldTexts>>>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sending, setSending] = useState(false);
  const [accepted, setAccepted] = useState<string | null>(null);

  const header = (
    <header className="panel__header">
      <h2>{title}</h2>
    </header>
  );
  if (forms === null || forms.length === 0) {
    const again = retryAt === null ? "" : ` Asked for again at ${formatTime(new Date(retryAt).toISOString())}.`;
    return (
      <section className="panel" aria-label={title}>
        {header}
        {problem === null ? (
          <p className="muted" role="status">Loading task types…</p>
        ) : (
          <p className="notice notice--warning" role="status" data-testid="forms-unavailable">
            The task types could not be read from the API ({problem}).{again}
          </p>
        )}
      </section>
    );
  }

  const form = forms.find((candidate) => candidate.taskType === chosen) ?? forms[0]!;
  const typed = texts[form.taskType] ?? {};
  const textOf = (path: string, initial: string): string => typed[path] ?? initial;
  const fields = [...form.parameters, ...form.options];
  const label = humanize(form.taskType);

  const edit = (path: string, text: string): void => {
    setTexts((current) => ({ ...current, [form.taskType]: { ...current[form.taskType], [path]: text } }));
  };

  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    setSending(true);
    setErrors({});
    setAccepted(null);
    send(draftOf(form, typed))
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
        setErrors(reason.status === 400 ? splitDetail(reason.detail, fields) : { form: reason.detail });
      })
      .finally(() => setSending(false));
  };

  const chooseType = (next: string): void => {
    setChosen(next);
    setErrors({});
    setAccepted(null);
  };

  // A list of task ids needs the panel's width (an id is 36 characters): it goes below the row.
  const rowOptions = form.options.filter((field) => field.kind !== "ids");
  const wideOptions = form.options.filter((field) => field.kind === "ids");
  const optionErrors = rowOptions.filter((field) => errors[field.path] !== undefined);
  return (
    <section className="panel" aria-label={title}>
      {header}
      <div className="tabs" role="tablist" aria-label="Task type">
        {forms.map((candidate) => (
          <button key={candidate.taskType} type="button" role="tab" aria-selected={candidate === form}
            className="tab" onClick={() => chooseType(candidate.taskType)} title={plainDescription(candidate.description)}>
            {humanize(candidate.taskType)}
          </button>
        ))}
      </div>
      <form className="form" onSubmit={submit} noValidate aria-label={`${verb} ${label}`}>
        {extra}
        {form.description !== "" && <p className="muted form__about"><ShowDescription text={form.description} /></p>}
        {form.parameters.map((field) => (
          <EditField key={field.path} field={field} text={textOf(field.path, field.initial)}
            error={errors[field.path]} onChange={edit} />
        ))}
        {form.options.length > 0 && (
          <fieldset className="options">
            <legend>Options</legend>
            <div className="options__row">
              {rowOptions.map((field) => (
                <EditField key={field.path} field={field} text={textOf(field.path, field.initial)}
                  error={errors[field.path]} onChange={edit} compact />
              ))}
            </div>
            {optionErrors.map((field) => (
              <ShowFieldError key={field.path} field={field} error={errors[field.path]!} />
            ))}
            {wideOptions.map((field) => (
              <EditField key={field.path} field={field} text={textOf(field.path, field.initial)}
                error={errors[field.path]} onChange={edit} />
            ))}
          </fieldset>
        )}
        {errors.form !== undefined && <p className="field-error" role="alert" data-testid="form-error">{errors.form}</p>}
        <div className="form__actions">
          <button type="submit" className="button button--primary" disabled={sending}>
            {sending ? "Sending…" : `${verb} ${label.toLowerCase()}`}
          </button>
          {accepted !== null && <span className="accepted" role="status">{acceptedText(accepted)}</span>}
        </div>
      </form>
    </section>
  );
}

function queuedText(taskId: string): ReactNode {
  return <>Queued <span className="mono">{taskId.slice(0, 8)}</span></>;
}
