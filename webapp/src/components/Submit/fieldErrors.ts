/** Splits the server's 400 `detail` by the form field each part names. */

/** Messages by form field; `form` holds what names no field of the form. */
export type FieldErrors = Partial<Record<"numbers" | "title" | "sections" | "error" | "form", string>>;

const FIELDS = new Set(["numbers", "title", "sections", "error"]);

/**
 * `"parameters.title: String should have at least 1 character; parameters.numbers.2: …"`
 * becomes `{title: "parameters.title: String…", numbers: "parameters.numbers.2: …"}`. Each
 * part keeps the server's own words, field path included.
 */
export function splitDetail(detail: string): FieldErrors {
  const errors: FieldErrors = {};
  for (const part of detail.split("; ")) {
    const path = part.slice(0, Math.max(0, part.indexOf(":"))).trim();
    const segments = path.split(".");
    const field = segments[0] === "parameters" ? segments[1] : undefined;
    const key = field !== undefined && FIELDS.has(field) ? (field as keyof FieldErrors) : "form";
    errors[key] = errors[key] === undefined ? part : `${errors[key]}; ${part}`;
  }
  return errors;
}
