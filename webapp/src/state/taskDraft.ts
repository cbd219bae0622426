/**
 * From what a person typed into a schema-driven form to the body of `POST /tasks`, and
 * from the server's 400 `detail` back to the fields it names. The server is the one judge
 * of what is valid: text that does not read as the field's type is sent as typed, so the
 * server's answer names the exact field (or list element) that is wrong.
 */
import type { TaskDraft } from "../api/client";
import { sameValue, type FormField, type TaskForm } from "./taskForms";

/** The text in each field, by the field's path. */
export type FieldTexts = Readonly<Record<string, string>>;

/** What was typed, split on commas, semicolons or spaces. */
function tokens(text: string): string[] {
  return text.split(/[\s,;]+/).filter((token) => token !== "");
}

/** Numbers as typed, split on commas, semicolons or spaces; a word that is not a number is kept. */
export function parseNumbers(text: string): (number | string)[] {
  return tokens(text)
    .map((token) => {
      const value = Number(token);
      return Number.isFinite(value) ? value : token;
    });
}

/** Items as typed, split on commas. */
function parseWords(text: string): string[] {
  return text
    .split(",")
    .map((word) => word.trim())
    .filter((word) => word !== "");
}

/** Nothing to send: the server applies its default, or says the field is required. */
const LEAVE_OUT = Symbol("leave out");

/** The value one field sends, or LEAVE_OUT. */
export function fieldValue(field: FormField, text: string): unknown {
  const blank = field.kind === "text" ? text === "" : text.trim() === "";
  if (blank) {
    if (field.nullable) return null;
    if (!field.required) return LEAVE_OUT;
    // Empty but required: send the empty value, so the server's answer says what it needs.
    if (field.kind === "text") return "";
    if (field.kind === "numbers" || field.kind === "words" || field.kind === "ids") return [];
    return LEAVE_OUT;
  }
  const trimmed = text.trim();
  switch (field.kind) {
    case "integer": {
      const value = Number(trimmed);
      return Number.isInteger(value) ? value : trimmed;
    }
    case "number": {
      const value = Number(trimmed);
      return Number.isFinite(value) ? value : trimmed;
    }
    case "numbers":
      return parseNumbers(trimmed);
    case "words":
      return parseWords(trimmed);
    case "ids":
      return tokens(trimmed);
    case "choice":
      return field.choices?.[Number(trimmed)] ?? LEAVE_OUT;
    case "boolean":
      return trimmed === "true";
    case "json":
      try {
        return JSON.parse(trimmed) as unknown;
      } catch {
        return trimmed;
      }
    case "text":
      return text;
  }
}

/**
 * The body for one form. A field left at the schema's default is not sent (the server
 * applies the same default), so a submission with no options chosen carries none.
 */
export function draftOf(form: TaskForm, texts: FieldTexts): TaskDraft {
  const parameters: Record<string, unknown> = {};
  const draft: TaskDraft = { task_type: form.taskType, parameters };
  const put = (target: Record<string, unknown>, field: FormField): void => {
    const value = fieldValue(field, texts[field.path] ?? field.initial);
    if (value === LEAVE_OUT) return;
    if ("default" in field && sameValue(value, field.default)) return;
    target[field.name] = value;
  };
  for (const field of form.parameters) put(parameters, field);
  for (const field of form.options) put(draft, field);
  return draft;
}

/** The server's messages, by the path of the field they name; `form` holds the rest. */
export type FieldErrors = Readonly<Record<string, string>>;

/**
 * `"parameters.title: String should have at least 1 character; priority: …"` becomes
 * `{"parameters.title": "parameters.title: String…", priority: "priority: …"}`: each part
 * goes to the field whose path begins its own (`parameters.numbers.2` to
 * `parameters.numbers`), in the server's own words.
 */
export function splitDetail(detail: string, fields: readonly FormField[]): FieldErrors {
  const paths = fields.map((field) => field.path).sort((a, b) => b.length - a.length);
  const errors: Record<string, string> = {};
  for (const part of detail.split("; ")) {
    const at = part.indexOf(":");
    const named = at < 0 ? "" : part.slice(0, at).trim();
    const key = paths.find((path) => named === path || named.startsWith(`${path}.`)) ?? "form";
    errors[key] = errors[key] === undefined ? part : `${errors[key]}; ${part}`;
  }
  return errors;
}
