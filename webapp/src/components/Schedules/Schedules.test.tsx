import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { openApiDocument } from "../../../test/openapi";
import { ApiError, type ScheduleTiming, type TaskDraft } from "../../api/client";
import type { Schedule } from "../../api/types";
import { taskFormsFromOpenApi } from "../../state/taskForms";
import { ListSchedules } from "./ListSchedules";
import { PutSchedule } from "./PutSchedule";

const FORMS = taskFormsFromOpenApi(openApiDocument());

function makeSchedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    name: "tick",
    task_type: "compute_sum",
    parameters: { numbers: [1, 2] },
    created_at: "2026-11-28T06:00:00Z",
    next_run_at: "2026-11-28T06:10:00Z",
    every: 600,
    cron: null,
    timezone: null,
    priority: 0,
    delay: 0,
    timeout: null,
    max_retries: 0,
    last_task_id: null,
    last_run_at: null,
    ...overrides,
  };
}

describe("ListSchedules", () => {
  it("lists each schedule with when it runs and deletes one", async () => {
    const onDelete = vi.fn(async (_: string) => undefined);
    const cron = makeSchedule({
      name: "morning", every: null, cron: "30 6 * * 1-5", timezone: "Europe/Paris",
      last_task_id: "3f2b8c1e-0000-4000-8000-000000000000",
    });
    render(<ListSchedules schedules={[cron, makeSchedule()]} onDelete={onDelete} />);
    const morning = screen.getByTestId("schedule-morning");
    expect(within(morning).getByText("30 6 * * 1-5 (Europe/Paris)")).toBeInTheDocument();
    expect(within(morning).getByText("3f2b8c1e")).toBeInTheDocument();
    expect(within(screen.getByTestId("schedule-tick")).getByText("every 600 s")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Delete schedule tick" }));
    expect(onDelete).toHaveBeenCalledWith("tick");
  });

  it("says when there are none, and why a delete failed", async () => {
    const { rerender } = render(<ListSchedules schedules={[]} onDelete={vi.fn()} />);
    expect(screen.getByText(/No schedules yet/)).toBeInTheDocument();
    const refuse = vi.fn(async () => Promise.reject(new ApiError(404, "schedule tick not found", null)));
    rerender(<ListSchedules schedules={[makeSchedule()]} onDelete={refuse} />);
    await userEvent.click(screen.getByRole("button", { name: "Delete schedule tick" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("schedule tick not found");
  });
});

describe("PutSchedule", () => {
  function putting() {
    return vi.fn(async (name: string, draft: TaskDraft, timing: ScheduleTiming) =>
      makeSchedule({ name, task_type: draft.task_type as Schedule["task_type"], ...("every" in timing ? { every: timing.every } : {}) }),
    );
  }

  it("puts the submit form's task with a name and an interval", async () => {
    const put = putting();
    const onSaved = vi.fn();
    render(<PutSchedule forms={FORMS} put={put} onSaved={onSaved} />);
    await userEvent.type(screen.getByLabelText("Name"), "tick");
    await userEvent.clear(screen.getByLabelText("Every (seconds)"));
    await userEvent.type(screen.getByLabelText("Every (seconds)"), "30");
    await userEvent.click(screen.getByRole("button", { name: /schedule compute sum/i }));
    expect(put).toHaveBeenCalledWith(
      "tick", { task_type: "compute_sum", parameters: { numbers: [1, 2, 3.5] } }, { every: 30 },
    );
    expect(onSaved).toHaveBeenCalledWith(expect.objectContaining({ name: "tick", every: 30 }));
    expect(await screen.findByText("tick")).toBeInTheDocument();
  });

  it("offers no Depends On: a schedule's tasks wait for none", () => {
    render(<PutSchedule forms={FORMS} put={putting()} />);
    expect(screen.getByLabelText("Priority")).toBeInTheDocument();
    expect(screen.queryByLabelText("Depends On")).toBeNull();
  });

  it("puts a cron expression with its time zone, and shows the server's 400", async () => {
    const put = vi.fn(async (): Promise<Schedule> => Promise.reject(new ApiError(400, "cron: Bad minute", null)));
    render(<PutSchedule forms={FORMS} put={put} />);
    await userEvent.type(screen.getByLabelText("Name"), "morning");
    await userEvent.selectOptions(screen.getByLabelText("Runs"), "cron");
    await userEvent.clear(screen.getByLabelText("Cron"));
    await userEvent.type(screen.getByLabelText("Cron"), "61 * * * *");
    await userEvent.clear(screen.getByLabelText("Time zone"));
    await userEvent.type(screen.getByLabelText("Time zone"), "Europe/Paris");
    await userEvent.click(screen.getByRole("button", { name: /schedule compute sum/i }));
    expect(put).toHaveBeenCalledWith(
      "morning", expect.objectContaining({ task_type: "compute_sum" }),
      { cron: "61 * * * *", timezone: "Europe/Paris" },
    );
    expect(await screen.findByTestId("form-error")).toHaveTextContent("cron: Bad minute");
  });
});
