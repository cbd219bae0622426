/**
 * The submit form, read from the API's OpenAPI document: one form per task type, one
 * field per parameter and per job option, from their JSON Schemas. A task type added to
 * the backend shows up here with no change to the monitor.
 */

/** The part of JSON Schema (as OpenAPI 3.1 and pydantic write it) that the form reads. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  examples?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
}

/**
 * How a value is typed in: a number, a whole number, text, a list of numbers or of words
 * (comma-separated), a list of task ids (uuids, as copied from the table: separated by
 * commas or spaces), a choice among fixed values, a yes/no, or JSON for anything else.
 */
export type FieldKind = "number" | "integer" | "text" | "numbers" | "words" | "ids" | "choice" | "boolean" | "json";

export interface FormField {
  /** Where the value goes in the body, dotted as the server's 400 `detail` names it: `parameters.title`, `priority`. */
  path: string;
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  /** An empty field means null. */
  nullable: boolean;
  /** The schema's default, when it has one: a value equal to it is left out of the body. */
  default?: unknown;
  /** The values a `choice` offers. */
  choices?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  /** The schema's description, else what its constraints say ("1 to 200 characters"). */
  hint: string;
  /** The text the field starts with: the default, else the API's example, else nothing. */
  initial: string;
}

export interface TaskForm {
  taskType: string;
  /** What the type does, from its schema's description. */
  description: string;
  parameters: FormField[];
  /** The job options: every other field of the type's request body. */
  options: FormField[];
}

type Lookup = (schema: JsonSchema | undefined) => JsonSchema;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Follows local `$ref`s (`#/components/schemas/X`) through the document. */
function resolver(document: Record<string, unknown>): Lookup {
  const resolve: Lookup = (schema) => {
    let current: JsonSchema = schema ?? {};
    for (let hops = 0; current.$ref !== undefined && hops < 32; hops += 1) {
      const { $ref, ...rest } = current;
      let target: unknown = document;
      for (const part of $ref.replace(/^#\//, "").split("/")) {
        const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
        target = isObject(target) ? target[key] : undefined;
      }
      // Keywords beside a $ref (a default, a description) win over the target's.
      current = { ...(isObject(target) ? (target as JsonSchema) : {}), ...rest };
    }
    return current;
  };
  return resolve;
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type === undefined ? [] : [schema.type];
}

/** A schema without its `null` alternative (`anyOf: [X, {type: null}]`), and whether it had one. */
function withoutNull(schema: JsonSchema, resolve: Lookup): { schema: JsonSchema; nullable: boolean } {
  const types = typesOf(schema);
  if (types.includes("null")) {
    const rest = types.filter((type) => type !== "null");
    return { schema: { ...schema, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  const alternatives = (schema.anyOf ?? schema.oneOf)?.map(resolve);
  const others = alternatives?.filter((option) => typesOf(option).join() !== "null");
  if (alternatives === undefined || others === undefined || others.length === alternatives.length) {
    return { schema, nullable: false };
  }
  const { anyOf: _anyOf, oneOf: _oneOf, ...outer } = schema;
  // One branch left: its keywords (type, bounds) are the field's; several (int | float): keep them.
  return { schema: others.length === 1 ? { ...others[0], ...outer } : { ...outer, anyOf: others }, nullable: true };
}

/** The scalar type a schema (or every branch of its anyOf, like pydantic's int | float) stands for. */
function scalarType(schema: JsonSchema, resolve: Lookup): string | null {
  const types = typesOf(schema);
  if (types.length === 1) return types[0] ?? null;
  const alternatives = (schema.anyOf ?? schema.oneOf)?.map(resolve);
  if (alternatives === undefined || alternatives.length === 0) return null;
  const branches = alternatives.map((branch) => scalarType(branch, resolve));
  if (branches.every((type) => type === "integer")) return "integer";
  if (branches.every((type) => type === "integer" || type === "number")) return "number";
  if (branches.every((type) => type === "string")) return "string";
  return null;
}

function kindOf(schema: JsonSchema, resolve: Lookup): FieldKind {
  if (schema.enum !== undefined || schema.const !== undefined) return "choice";
  switch (scalarType(schema, resolve)) {
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "string":
      return "text";
    case "boolean":
      return "boolean";
    case "array": {
      const items = resolve(schema.items);
      if (items.enum !== undefined) return "json";
      const item = scalarType(items, resolve);
      if (item === "integer" || item === "number") return "numbers";
      if (item === "string") return items.format === "uuid" ? "ids" : "words";
      return "json";
    }
    default:
      return "json";
  }
}

const FORMAT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });

function range(low: number | undefined, high: number | undefined, unit = ""): string {
  const suffix = unit === "" ? "" : ` ${unit}`;
  if (low !== undefined && high !== undefined) return `${FORMAT.format(low)} to ${FORMAT.format(high)}${suffix}`;
  if (low !== undefined) return `at least ${FORMAT.format(low)}${suffix}`;
  if (high !== undefined) return `at most ${FORMAT.format(high)}${suffix}`;
  return "";
}

/** What a field's constraints say, in words: "1 to 10", "1 to 200 characters". */
function constraints(field: Omit<FormField, "hint" | "initial">, schema: JsonSchema, resolve: Lookup): string {
  const parts: string[] = [];
  switch (field.kind) {
    case "number":
    case "integer":
      parts.push(range(field.minimum, field.maximum));
      break;
    case "text":
      parts.push(range(schema.minLength, schema.maxLength, "characters"));
      break;
    case "numbers":
    case "words": {
      const noun = field.kind === "numbers" ? "numbers" : "items";
      const count = range(schema.minItems, schema.maxItems, noun);
      const separated = field.kind === "numbers" ? "separated by commas or spaces" : "separated by commas";
      parts.push(`${count === "" ? noun.charAt(0).toUpperCase() + noun.slice(1) : count}, ${separated}`);
      const items = resolve(schema.items);
      const each = range(items.minimum, items.maximum);
      if (each !== "") parts.push(`each ${each}`);
      break;
    }
    case "ids":
      parts.push("Task ids, separated by commas or spaces");
      break;
    case "json":
      parts.push("JSON");
      break;
    default:
      break;
  }
  if (field.nullable) parts.push("empty for none");
  else if (!field.required && field.default === undefined && field.kind !== "choice") parts.push("optional");
  return parts.filter((part) => part !== "").join("; ");
}

/** The text a value reads as in its field. */
export function textOf(field: Pick<FormField, "kind" | "choices">, value: unknown): string {
  if (value === undefined || value === null) return "";
  switch (field.kind) {
    case "numbers":
    case "words":
    case "ids":
      return Array.isArray(value) ? value.map(String).join(", ") : String(value);
    case "choice": {
      const index = (field.choices ?? []).findIndex((choice) => sameValue(choice, value));
      return index < 0 ? "" : String(index);
    }
    case "boolean":
      return value === true ? "true" : value === false ? "false" : "";
    case "json":
      return JSON.stringify(value);
    default:
      return typeof value === "string" ? value : String(value);
  }
}

function fieldOf(
  path: string,
  name: string,
  raw: JsonSchema,
  required: boolean,
  example: unknown,
  resolve: Lookup,
): FormField {
  const outer = resolve(raw);
  const { schema, nullable } = withoutNull(outer, resolve);
  const kind = kindOf(schema, resolve);
  const field: Omit<FormField, "hint" | "initial"> = {
    path,
    name,
    label: outer.title ?? humanizeName(name),
    kind,
    required,
    nullable,
  };
  if ("default" in outer) field.default = outer.default;
  if (kind === "choice") field.choices = schema.enum ?? [schema.const];
  const minimum = schema.minimum ?? schema.exclusiveMinimum;
  const maximum = schema.maximum ?? schema.exclusiveMaximum;
  if (minimum !== undefined) field.minimum = minimum;
  if (maximum !== undefined) field.maximum = maximum;

  const limits = constraints(field, schema, resolve);
  const description = outer.description?.trim() ?? "";
  // Drop what the description already says ("0 to 9; higher runs first").
  const extra = limits.split("; ").filter((part) => part !== "" && !description.includes(part));
  const hint = capitalize([description, extra.join("; ")].filter((part) => part !== "").join(" · "));
  const start = "default" in outer ? outer.default : example !== undefined ? example : outer.examples?.[0];
  // A choice with no default starts at its first value when one is needed, blank otherwise.
  let initial = textOf(field, start);
  if (kind === "choice" && initial === "" && required && !nullable) initial = "0";
  return { ...field, hint, initial };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `max_retries` as "Max retries", for a field the schema gives no title. */
function humanizeName(name: string): string {
  return capitalize(name.replaceAll("_", " "));
}

function fieldsOf(
  schema: JsonSchema,
  prefix: string,
  skip: ReadonlySet<string>,
  examples: Record<string, unknown>,
  resolve: Lookup,
): FormField[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => !skip.has(name))
    .map(([name, property]) =>
      fieldOf(`${prefix}${name}`, name, property, required.has(name), examples[name], resolve),
    );
}

/** The request bodies the API documents as examples, by task type: the first of each type. */
function examplesByType(media: Record<string, unknown>, discriminator: string): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>();
  const examples = isObject(media.examples) ? Object.values(media.examples) : [];
  const values = [...examples.map((example) => (isObject(example) ? example.value : undefined)), media.example];
  for (const value of values) {
    if (!isObject(value)) continue;
    const type = value[discriminator];
    if (typeof type === "string" && !found.has(type)) found.set(type, value);
  }
  return found;
}

/** The JSON Schema of `POST /tasks`'s body, and its media type object (for the examples). */
function submitBody(document: Record<string, unknown>): { schema: JsonSchema; media: Record<string, unknown> } | null {
  const paths = isObject(document.paths) ? document.paths : {};
  const tasks = isObject(paths["/tasks"]) ? paths["/tasks"] : {};
  const post = isObject(tasks.post) ? tasks.post : {};
  const body = isObject(post.requestBody) ? post.requestBody : {};
  const content = isObject(body.content) ? body.content : {};
  const media = content["application/json"];
  if (isObject(media) && isObject(media.schema)) return { schema: media.schema as JsonSchema, media };
  const schemas = isObject(document.components) && isObject(document.components.schemas) ? document.components.schemas : {};
  return isObject(schemas.TaskRequest) ? { schema: schemas.TaskRequest as JsonSchema, media: {} } : null;
}

/**
 * One form per task type, in the order the API lists them. The types are the branches of
 * `POST /tasks`'s body (a union on `task_type`); in each, `parameters` gives the parameter
 * fields and every other property a job option. Throws when the document has no task types.
 */
export function taskFormsFromOpenApi(document: unknown): TaskForm[] {
  if (!isObject(document)) throw new Error("the API description is not a JSON object");
  const resolve = resolver(document);
  const body = submitBody(document);
  if (body === null) throw new Error("the API description has no body for POST /tasks");
  const union = resolve(body.schema);
  const discriminator = union.discriminator?.propertyName ?? "task_type";
  const mapping = Object.entries(union.discriminator?.mapping ?? {});
  const branches = union.oneOf ?? union.anyOf ?? (mapping.length > 0 ? mapping.map(([, $ref]) => ({ $ref })) : [union]);
  const examples = examplesByType(body.media, discriminator);

  const forms: TaskForm[] = [];
  for (const branch of branches) {
    const variant = resolve(branch);
    const tag = resolve(variant.properties?.[discriminator]);
    const named = mapping.find(([, $ref]) => $ref === branch.$ref)?.[0];
    const taskType = typeof tag.const === "string" ? tag.const : typeof tag.enum?.[0] === "string" ? tag.enum[0] : named;
    if (taskType === undefined || forms.some((form) => form.taskType === taskType)) continue;
    const parameters = resolve(variant.properties?.parameters);
    const example = examples.get(taskType);
    const exampleParameters = isObject(example?.parameters) ? example.parameters : {};
    forms.push({
      taskType,
      description: variant.description ?? parameters.description ?? "",
      parameters: fieldsOf(parameters, "parameters.", new Set(), exampleParameters, resolve),
      options: fieldsOf(variant, "", new Set([discriminator, "parameters"]), {}, resolve),
    });
  }
  if (forms.length === 0) throw new Error("the API description lists no task types");
  return forms;
}

/** Deep equality for JSON values. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && sameValue(a[key], b[key]));
  }
  return false;
}
