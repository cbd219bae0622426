import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError, type TaskDraft } from "../../api/client";
import { SubmitTask, parseNumbers } from "./SubmitTask";

const ACCEPTED = { task_id: "3f2b8c1e-0000-4000-8000-000000000000", status: "queued" as const };

describe("SubmitTask", () => {
  it("sends the numbers as a compute_sum and reports the new task", async () => {
    const send = vi.fn(async (_: TaskDraft) => ACCEPTED);
    const onSubmitted = vi.fn();
    render(<SubmitTask send={send} onSubmitted={onSubmitted} />);
    const numbers = screen.getByLabelText("Numbers");
    await userEvent.clear(numbers);
    await userEvent.type(numbers, "1, 2.5 -3");
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "compute_sum", parameters: { numbers: [1, 2.5, -3] } });
    expect(onSubmitted).toHaveBeenCalledWith(ACCEPTED.task_id);
    expect(await screen.findByText("3f2b8c1e")).toBeInTheDocument();
  });

  it("shows the server's 400 detail beside the title field", async () => {
    const detail = "parameters.title: String should have at least 1 character";
    const send = vi.fn(async () => {
      throw new ApiError(400, detail, null);
    });
    render(<SubmitTask send={send} />);
    await userEvent.click(screen.getByRole("tab", { name: "Generate report" }));
    await userEvent.clear(screen.getByLabelText("Title"));
    await userEvent.click(screen.getByRole("button", { name: /submit generate report/i }));

    expect(send).toHaveBeenCalledWith({ task_type: "generate_report", parameters: { title: "", sections: 3 } });
    const error = await screen.findByTestId("title-error");
    expect(error).toHaveTextContent(detail);
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("sections-error")).toBeNull();
  });

  it("lets the server judge a word among the numbers, and shows its answer there", async () => {
    const detail = "parameters.numbers.1: Input should be a valid number, unable to parse string as a number";
    const send = vi.fn(async () => {
      throw new ApiError(400, detail, null);
    });
    render(<SubmitTask send={send} />);
    await userEvent.clear(screen.getByLabelText("Numbers"));
    await userEvent.type(screen.getByLabelText("Numbers"), "1, two");
    await userEvent.click(screen.getByRole("button", { name: /submit compute sum/i }));
    expect(send).toHaveBeenCalledWith({ task_type: "compute_sum", parameters: { numbers: [1, "two"] } });
    expect(await screen.findByTestId("numbers-error")).toHaveTextContent(detail);
  });

  it("puts a problem that names no field under the form, and passes a 429 on", async () => {
    const limited = new ApiError(429, "rate limit exceeded", 30);
    const onRateLimited = vi.fn();
    render(<SubmitTask send={vi.fn(async () => Promise.reject(limited))} onRateLimited={onRateLimited} />);
    await userEvent.click(screen.getByRole("tab", { name: "Simulate error" }));
    await userEvent.selectOptions(screen.getByLabelText("Error kind"), "timeout");
    await userEvent.click(screen.getByRole("button", { name: /submit simulate error/i }));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("rate limit exceeded");
    expect(onRateLimited).toHaveBeenCalledWith(limited);
  });
});

describe("parseNumbers", () => {
  it("splits on commas and spaces and keeps words for the server to refuse", () => {
    expect(parseNumbers(" 1,2  3;4 ")).toEqual([1, 2, 3, 4]);
    expect(parseNumbers("1e3, NaN, x")).toEqual([1000, "NaN", "x"]);
    expect(parseNumbers("")).toEqual([]);
  });
});
