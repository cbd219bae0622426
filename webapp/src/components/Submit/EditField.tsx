import type { ChangeEvent } from "react";
import type { FormField } from "../../state/taskForms";
import { ShowDescription, plainDescription } from "./ShowDescription";

export interface EditFieldProps {
  field: FormField;
  text: string;
  /** The server's message about this field, from its last 400. */
  error: string | undefined;
  onChange: (path: string, text: string) => void;
  /** A narrow field in a row of options: its hint becomes a tooltip, its error is shown by the row. */
  compact?: boolean;
}

/** The DOM id of a field's input, from its path in the body. */
export function inputId(field: FormField): string {
  return `field-${field.path}`;
}

/** The DOM id of the server's message about a field. */
export function errorId(field: FormField): string {
  return `${inputId(field)}-error`;
}

/** The server's message about one field, in its own words. */
export function ShowFieldError({ field, error }: { field: FormField; error: string }) {
  return (
    <span className="field-error" id={errorId(field)} role="alert" data-testid={`${field.path}-error`}>{error}</span>
  );
}

/** What an option of a `choice` reads as. */
function choiceLabel(choice: unknown): string {
  return typeof choice === "string" ? choice : JSON.stringify(choice);
}

/** One input for one field of a task type's schema: its kind decides which. */
export function EditField({ field, text, error, onChange, compact = false }: EditFieldProps) {
  const id = inputId(field);
  const hintId = `${id}-hint`;
  const common = {
    id,
    name: field.path,
    "aria-invalid": error !== undefined,
    "aria-describedby": error === undefined ? hintId : `${errorId(field)} ${hintId}`,
    title: compact ? plainDescription(field.hint) : undefined,
  };
  const change = (event: ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>): void =>
    onChange(field.path, event.target.value);

  let input;
  switch (field.kind) {
    case "choice": {
      // An optional choice with no default can be left to the server.
      const blank = field.nullable || (!field.required && !("default" in field));
      input = (
        <select {...common} value={text} onChange={change}>
          {blank && <option value="">{field.nullable ? "none" : "—"}</option>}
          {(field.choices ?? []).map((choice, index) => (
            <option key={choiceLabel(choice)} value={String(index)}>{choiceLabel(choice)}</option>
          ))}
        </select>
      );
      break;
    }
    case "boolean":
      input = (
        <input {...common} type="checkbox" checked={text === "true"}
          onChange={(event) => onChange(field.path, event.target.checked ? "true" : "false")} />
      );
      break;
    case "json":
      input = <textarea {...common} rows={3} spellCheck={false} value={text} onChange={change} />;
      break;
    case "integer":
    case "number":
      // Text, not type=number: a browser blanks what it cannot read as a number, and the
      // server, not the browser, says what is wrong with it.
      input = (
        <input {...common} type="text" inputMode={field.kind === "integer" ? "numeric" : "decimal"}
          autoComplete="off" placeholder={field.nullable ? "none" : undefined} value={text} onChange={change} />
      );
      break;
    default:
      input = <input {...common} type="text" autoComplete="off" value={text} onChange={change} />;
  }

  const className = ["field", compact ? "field--compact" : "", error === undefined ? "" : "field--invalid"]
    .filter((name) => name !== "")
    .join(" ");
  return (
    <div className={className}>
      <label htmlFor={id}>{field.label}</label>
      {input}
      <span className={compact ? "visually-hidden" : "field-hint"} id={hintId}><ShowDescription text={field.hint} /></span>
      {/* A row of compact fields shows its messages below the row. */}
      {error !== undefined && !compact && <ShowFieldError field={field} error={error} />}
    </div>
  );
}
