import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../test/openapi";
import { draftOf, parseNumbers, splitDetail } from "./taskDraft";
import { taskFormsFromOpenApi, type TaskForm } from "./taskForms";

const forms = taskFormsFromOpenApi(openApiDocument());
const [computeSum, generateReport, simulateError] = forms as [TaskForm, TaskForm, TaskForm];

describe("draftOf", () => {
  it("sends what the fields start with, and no option left at its default", () => {
    expect(draftOf(computeSum, {})).toEqual({ task_type: "compute_sum", parameters: { numbers: [1, 2, 3.5] } });
    expect(draftOf(simulateError, {})).toEqual({ task_type: "simulate_error", parameters: {} });
  });

  it("sends the options that were changed, read as numbers", () => {
    const draft = draftOf(generateReport, {
      "parameters.sections": "10",
      priority: "7",
      delay: "2.5",
      timeout: "30",
      max_retries: "2",
    });
    expect(draft).toEqual({
      task_type: "generate_report",
      parameters: { title: "Quarterly figures", sections: 10 },
      priority: 7,
      delay: 2.5,
      timeout: 30,
      max_retries: 2,
    });
  });

  it("sends the task ids typed or pasted as a list, whatever separates them, and none when empty", () => {
    const [first, second] = ["0a6c8f1e-4b3d-4e8a-9c1f-2d7b5e3a9c10", "7e2d4b19-8c5a-4f3e-b6d1-9a0c3e5f7b21"];
    const draft = draftOf(computeSum, { depends_on: ` ${first},\n${second} ` });
    expect(draft.depends_on).toEqual([first, second]);
    expect(draftOf(computeSum, { depends_on: `${first} ${second}` }).depends_on).toEqual([first, second]);
    expect(draftOf(computeSum, { depends_on: "   " })).not.toHaveProperty("depends_on");
  });

  it("sends what does not read as the field's type as typed, for the server to judge", () => {
    const draft = draftOf(generateReport, { "parameters.title": "", "parameters.sections": "2.5", priority: "high" });
    expect(draft).toEqual({ task_type: "generate_report", parameters: { title: "", sections: "2.5" }, priority: "high" });
    expect(draftOf(computeSum, { "parameters.numbers": "" }).parameters).toEqual({ numbers: [] });
  });

  it("reads a choice by its position and an emptied optional field as the server's default", () => {
    const draft = draftOf(simulateError, { "parameters.error": "2", timeout: "  ", delay: "" });
    expect(draft).toEqual({ task_type: "simulate_error", parameters: { error: "crash" } });
  });
});

describe("splitDetail", () => {
  const fields = [...generateReport.parameters, ...generateReport.options];

  it("puts each part of the server's detail beside the field it names, in its own words", () => {
    const detail =
      "parameters.title: String should have at least 1 character; priority: Input should be less than or equal to 9";
    expect(splitDetail(detail, fields)).toEqual({
      "parameters.title": "parameters.title: String should have at least 1 character",
      priority: "priority: Input should be less than or equal to 9",
    });
  });

  it("gives a list element's message to its list, and what names no field to the form", () => {
    const numbers = computeSum.parameters;
    expect(splitDetail("parameters.numbers.1: Input should be a valid number", numbers)).toEqual({
      "parameters.numbers": "parameters.numbers.1: Input should be a valid number",
    });
    expect(splitDetail("bogus: Extra inputs are not permitted", numbers)).toEqual({
      form: "bogus: Extra inputs are not permitted",
    });
  });
});

describe("parseNumbers", () => {
  it("splits on commas and spaces and keeps words for the server to refuse", () => {
    expect(parseNumbers(" 1,2  3;4 ")).toEqual([1, 2, 3, 4]);
    expect(parseNumbers("1e3, NaN, x")).toEqual([1000, "NaN", "x"]);
    expect(parseNumbers("")).toEqual([]);
  });
});
