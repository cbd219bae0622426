import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { makeTask } from "../../../test/fakes";
import { openApiDocument, withInventedType } from "../../../test/openapi";
import { ApiError, type TaskDraft } from "../../api/client";
import { taskFormsFromOpenApi } from "../../state/taskForms";
import { SubmitTask } from "./SubmitTask";

const ACCEPTED = makeTask({ task_id: "3f2b8c1e-0000-4000-8000-000000000000", status: "queued" });
const FORMS = taskFormsFromOpenApi(openApiDocument());

function accepting() {
  return vi.fn(async (_: TaskDraft) => ACCEPTED);
}

function refusing(error: ApiError) {
  return vi.fn(async (_: TaskDraft): Promise<typeof ACCEPTED> => Promise.reject(error));
}

describe("SubmitTask", () => {
  it("has a tab for each task type the API describes", () => {
    render(<SubmitTask forms={FORMS} send={accepting()} />);
    const tabs = screen.getAllByRole("tab").map((tab) => tab.textContent);
    expect(tabs).toEqual(["Compute sum", "Generate report", "Simulate error"]);
    expect(screen.getByRole("tab", { name: "Compute sum" })).toHaveAttribute("aria-selected", "true");
  });

  it("sends the numbers as a compute_sum and reports the new task", async () => {
    const send = accepting();
    const onSubmitted = vi.fn();
    render(<SubmitTask forms={FORMS} send={send} onSubmitted={onSubmitted} />);
    const numbers = screen.getByLabelText("Numbers");
    expect(numbers).toHaveValue("1, 2, 3.5"); // the API's example
    expect(numbers).toHaveAccessibleDescription(
      "The numbers to add up · 1 to 10,000 numbers, separated by commas or spaces",
    );
    await userEvent.clear(numbers);
    await userEvent.type(numbers, "1, 2.5 -3");
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "compute_sum", parameters: { numbers: [1, 2.5, -3] } });
    expect(onSubmitted).toHaveBeenCalledWith(ACCEPTED.task_id);
    expect(await screen.findByText("3f2b8c1e")).toBeInTheDocument();
  });

  it("shows the server's 400 detail beside the title field", async () => {
    const detail = "parameters.title: String should have at least 1 character";
    const send = refusing(new ApiError(400, detail, null));
    render(<SubmitTask forms={FORMS} send={send} />);
    await userEvent.click(screen.getByRole("tab", { name: "Generate report" }));
    expect(screen.getByLabelText("Sections")).toHaveValue("3"); // the schema's default
    await userEvent.clear(screen.getByLabelText("Title"));
    await userEvent.click(screen.getByRole("button", { name: /submit generate report/i }));

    expect(send).toHaveBeenCalledWith({ task_type: "generate_report", parameters: { title: "" } });
    const error = await screen.findByTestId("parameters.title-error");
    expect(error).toHaveTextContent(detail);
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("parameters.sections-error")).toBeNull();
  });

  it("lets the server judge a word among the numbers, and shows its answer there", async () => {
    const detail = "parameters.numbers.1: Input should be a valid number, unable to parse string as a number";
    const send = refusing(new ApiError(400, detail, null));
    render(<SubmitTask forms={FORMS} send={send} />);
    await userEvent.clear(screen.getByLabelText("Numbers"));
    await userEvent.type(screen.getByLabelText("Numbers"), "1, two");
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "compute_sum", parameters: { numbers: [1, "two"] } });
    expect(await screen.findByTestId("parameters.numbers-error")).toHaveTextContent(detail);
  });

  it("puts a problem that names no field under the form, and passes a 429 on", async () => {
    const limited = new ApiError(429, "rate limit exceeded", 30);
    const onRateLimited = vi.fn();
    const send = refusing(limited);
    render(<SubmitTask forms={FORMS} send={send} onRateLimited={onRateLimited} />);
    await userEvent.click(screen.getByRole("tab", { name: "Simulate error" }));
    await userEvent.selectOptions(screen.getByLabelText("Error"), "timeout");
    await userEvent.click(screen.getByRole("button", { name: /submit simulate error/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "simulate_error", parameters: { error: "timeout" } });
    expect(await screen.findByTestId("form-error")).toHaveTextContent("rate limit exceeded");
    expect(onRateLimited).toHaveBeenCalledWith(limited);
  });
});

describe("SubmitTask's job options", () => {
  it("shows the code spans of the API's descriptions as code", () => {
    render(<SubmitTask forms={FORMS} send={accepting()} />);
    expect(screen.getByLabelText("Max Retries")).toHaveAttribute("title", expect.stringMatching(/^Attempts after a timeout, crash or worker_lost failure/));
    const hint = document.getElementById(`${screen.getByLabelText("Max Retries").id}-hint`)!;
    expect([...hint.querySelectorAll("code")].map((code) => code.textContent)).toEqual(["timeout", "crash", "worker_lost"]);
  });

  it("offers priority, delay, timeout and retries, filled with their defaults", () => {
    render(<SubmitTask forms={FORMS} send={accepting()} />);
    const options = within(screen.getByRole("group", { name: "Options" }));
    expect(options.getByLabelText("Priority")).toHaveValue("0");
    expect(options.getByLabelText("Priority")).toHaveAccessibleDescription(/^0 to 9; higher runs first/);
    expect(options.getByLabelText("Delay")).toHaveValue("0");
    expect(options.getByLabelText("Timeout")).toHaveValue("");
    expect(options.getByLabelText("Timeout")).toHaveAttribute("placeholder", "none");
    expect(options.getByLabelText("Max Retries")).toHaveValue("0");
  });

  it("sends the options that were changed with the task", async () => {
    const send = accepting();
    render(<SubmitTask forms={FORMS} send={send} />);
    await userEvent.click(screen.getByRole("tab", { name: "Simulate error" }));
    await userEvent.selectOptions(screen.getByLabelText("Error"), "crash");
    for (const [label, value] of [["Priority", "7"], ["Delay", "2.5"], ["Timeout", "30"], ["Max Retries", "1"]] as const) {
      await userEvent.clear(screen.getByLabelText(label));
      await userEvent.type(screen.getByLabelText(label), value);
    }
    await userEvent.click(screen.getByRole("button", { name: /submit simulate error/i }));
    expect(send).toHaveBeenCalledWith({
      task_type: "simulate_error",
      parameters: { error: "crash" },
      priority: 7,
      delay: 2.5,
      timeout: 30,
      max_retries: 1,
    });
  });

  it("shows the server's word on an option under the options", async () => {
    const detail = "priority: Input should be less than or equal to 9";
    const send = refusing(new ApiError(400, detail, null));
    render(<SubmitTask forms={FORMS} send={send} />);
    await userEvent.clear(screen.getByLabelText("Priority"));
    await userEvent.type(screen.getByLabelText("Priority"), "12");
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "compute_sum", parameters: { numbers: [1, 2, 3.5] }, priority: 12 });
    const error = await within(screen.getByRole("group", { name: "Options" })).findByTestId("priority-error");
    expect(error).toHaveTextContent(detail);
    expect(screen.getByLabelText("Priority")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("form-error")).toBeNull();
  });

  it("sends the task ids typed into Depends On, and shows the server's word on them there", async () => {
    const [first, second] = ["0a6c8f1e-4b3d-4e8a-9c1f-2d7b5e3a9c10", "7e2d4b19-8c5a-4f3e-b6d1-9a0c3e5f7b21"];
    const detail = `depends_on: task ${second} not found`;
    const send = refusing(new ApiError(400, detail, null));
    render(<SubmitTask forms={FORMS} send={send} />);
    const dependsOn = screen.getByLabelText("Depends On");
    expect(dependsOn).toHaveAccessibleDescription(/Task ids, separated by commas or spaces; optional$/);
    await userEvent.type(dependsOn, `${first}, ${second}`);
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({
      task_type: "compute_sum",
      parameters: { numbers: [1, 2, 3.5] },
      depends_on: [first, second],
    });
    expect(await screen.findByTestId("depends_on-error")).toHaveTextContent(detail);
    expect(screen.getAllByText(detail)).toHaveLength(1);
    expect(dependsOn).toHaveAttribute("aria-invalid", "true");
  });

  it("keeps what was typed for each type when switching tabs", async () => {
    render(<SubmitTask forms={FORMS} send={accepting()} />);
    await userEvent.clear(screen.getByLabelText("Priority"));
    await userEvent.type(screen.getByLabelText("Priority"), "5");
    await userEvent.click(screen.getByRole("tab", { name: "Generate report" }));
    expect(screen.getByLabelText("Priority")).toHaveValue("0");
    await userEvent.click(screen.getByRole("tab", { name: "Compute sum" }));
    expect(screen.getByLabelText("Priority")).toHaveValue("5");
  });
});

describe("SubmitTask on a task type the monitor has never seen", () => {
  it("shows its form from the schema alone and submits what was typed", async () => {
    const send = accepting();
    render(<SubmitTask forms={taskFormsFromOpenApi(withInventedType())} send={send} />);
    await userEvent.click(screen.getByRole("tab", { name: "Translate text" }));
    expect(screen.getByText("Translate a text (2 s per copy).")).toBeInTheDocument();
    const text = screen.getByLabelText("Text");
    expect(text).toHaveAccessibleDescription("What to translate · 1 to 500 characters");
    expect(screen.getByLabelText("Target")).toHaveDisplayValue("fr");
    expect(screen.getByLabelText("Copies")).toHaveValue("1");
    expect(screen.getByLabelText("Formal")).not.toBeChecked();

    await userEvent.type(text, "Bonjour");
    await userEvent.selectOptions(screen.getByLabelText("Target"), "ja");
    await userEvent.clear(screen.getByLabelText("Copies"));
    await userEvent.type(screen.getByLabelText("Copies"), "2");
    await userEvent.type(screen.getByLabelText("Weights"), "0.5, 1");
    await userEvent.click(screen.getByLabelText("Formal"));
    await userEvent.clear(screen.getByLabelText("Priority"));
    await userEvent.type(screen.getByLabelText("Priority"), "3");
    await userEvent.click(screen.getByRole("button", { name: /submit translate text/i }));
    expect(send).toHaveBeenCalledWith({
      task_type: "translate_text",
      parameters: { text: "Bonjour", target: "ja", copies: 2, weights: [0.5, 1], formal: true },
      priority: 3,
    });
  });
});

describe("SubmitTask before the task types are known", () => {
  it("says it is loading them, or why they could not be read and when they are asked for again", () => {
    const { rerender } = render(<SubmitTask forms={null} />);
    expect(screen.getByText("Loading task types…")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /submit/i })).toBeNull();
    rerender(<SubmitTask forms={null} problem="the server cannot be reached" retryAt={Date.parse("2026-11-28T06:00:05Z")} />);
    expect(screen.getByTestId("forms-unavailable")).toHaveTextContent(/could not be read from the API \(the server cannot be reached\)/);
  });
});
