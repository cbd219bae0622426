import { describe, expect, it } from "vitest";
import { openApiDocument, withInventedType } from "../../test/openapi";
import { taskFormsFromOpenApi, type FormField, type TaskForm } from "./taskForms";

function form(forms: TaskForm[], taskType: string): TaskForm {
  const found = forms.find((candidate) => candidate.taskType === taskType);
  if (found === undefined) throw new Error(`no form for ${taskType}`);
  return found;
}

function field(fields: FormField[], name: string): FormField {
  const found = fields.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no field ${name}`);
  return found;
}

describe("taskFormsFromOpenApi, on the backend's own description", () => {
  const forms = taskFormsFromOpenApi(openApiDocument());

  it("finds the task types in the order of POST /tasks's union", () => {
    expect(forms.map((candidate) => candidate.taskType)).toEqual(["compute_sum", "generate_report", "simulate_error"]);
    expect(form(forms, "compute_sum").description).toMatch(/finite numbers/);
  });

  it("reads a list of numbers, with its bounds and the API's example", () => {
    const numbers = field(form(forms, "compute_sum").parameters, "numbers");
    expect(numbers).toMatchObject({ path: "parameters.numbers", label: "Numbers", kind: "numbers", required: true });
    expect(numbers.initial).toBe("1, 2, 3.5");
    expect(numbers.hint).toBe("The numbers to add up · 1 to 10,000 numbers, separated by commas or spaces");
  });

  it("reads text and a bounded whole number with its default", () => {
    const report = form(forms, "generate_report").parameters;
    expect(field(report, "title")).toMatchObject({ kind: "text", required: true, initial: "Quarterly figures" });
    expect(field(report, "title").hint).toBe("The report's title · 1 to 200 characters");
    expect(field(report, "sections")).toMatchObject({
      kind: "integer",
      required: false,
      default: 3,
      initial: "3",
      minimum: 1,
      maximum: 10,
      hint: "How many sections; each takes 5 s · 1 to 10",
    });
  });

  it("reads an enum as a choice, starting at its default", () => {
    const error = field(form(forms, "simulate_error").parameters, "error");
    expect(error).toMatchObject({ kind: "choice", choices: ["value_error", "timeout", "crash"], default: "value_error" });
    expect(error.initial).toBe("0");
  });

  it("takes every other field of a type's request as a job option, with its range and description", () => {
    const options = form(forms, "generate_report").options;
    expect(options.map((option) => option.path)).toEqual(["priority", "delay", "timeout", "max_retries", "depends_on"]);
    expect(field(options, "priority")).toMatchObject({ kind: "integer", minimum: 0, maximum: 9, default: 0, initial: "0" });
    expect(field(options, "priority").hint).toBe("0 to 9; higher runs first, equal priorities in submission order");
    expect(field(options, "delay")).toMatchObject({ kind: "number", maximum: 86_400, initial: "0" });
    expect(field(options, "timeout")).toMatchObject({ kind: "number", nullable: true, minimum: 0.01, maximum: 3600, initial: "" });
    expect(field(options, "timeout").hint).toMatch(/0\.01 to 3,600; empty for none$/);
    expect(field(options, "max_retries")).toMatchObject({ kind: "integer", minimum: 0, maximum: 10, label: "Max Retries" });
    expect(field(options, "max_retries").hint).toBe("Attempts after a `timeout`, `crash` or `worker_lost` failure · 0 to 10");
  });

  it("reads a list of task ids as ids typed or pasted, separated by commas or spaces", () => {
    const dependsOn = field(form(forms, "compute_sum").options, "depends_on");
    expect(dependsOn).toMatchObject({ kind: "ids", required: false, initial: "" });
    expect(dependsOn.hint).toMatch(/^Tasks \(at most 100\) that must complete before this one starts/);
    expect(dependsOn.hint).toMatch(/· Task ids, separated by commas or spaces; optional$/);
  });
});

describe("taskFormsFromOpenApi, on a description with a type the monitor has never seen", () => {
  const invented = form(taskFormsFromOpenApi(withInventedType()), "translate_text");

  it("builds its form from its schema alone", () => {
    expect(invented.description).toBe("Translate a text (2 s per copy).");
    expect(invented.parameters.map((candidate) => [candidate.name, candidate.kind])).toEqual([
      ["text", "text"],
      ["target", "choice"],
      ["copies", "integer"],
      ["weights", "numbers"],
      ["formal", "boolean"],
    ]);
    expect(field(invented.parameters, "text").hint).toBe("What to translate · 1 to 500 characters");
    expect(field(invented.parameters, "weights").hint).toBe("At most 3 numbers, separated by commas or spaces; optional");
    expect(invented.options.map((option) => option.name)).toEqual(["priority", "delay", "timeout", "max_retries", "depends_on"]);
  });

  it("reads int | float | None as a number that may be left empty", () => {
    const document = withInventedType() as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    document.components.schemas.TranslateText!.properties.budget = {
      anyOf: [{ $ref: "#/components/schemas/Number" }, { type: "null" }],
      default: null,
      title: "Budget",
    };
    const budget = () => field(form(taskFormsFromOpenApi(document), "translate_text").parameters, "budget");
    expect(budget()).toMatchObject({ kind: "number", nullable: true, initial: "" });
    document.components.schemas.TranslateText!.properties.budget = {
      anyOf: [{ type: "integer" }, { type: "number" }, { type: "null" }],
      title: "Budget",
    };
    expect(budget()).toMatchObject({ kind: "number", nullable: true, required: false });
  });

  it("refuses a description with no task types", () => {
    expect(() => taskFormsFromOpenApi({ openapi: "3.1.0", paths: {} })).toThrow(/no body for POST \/tasks/);
    expect(() => taskFormsFromOpenApi("nope")).toThrow(/not a JSON object/);
  });
});
