import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { makeTask } from "../../../test/fakes";
import type { Task } from "../../api/types";
import { ListTasks } from "./ListTasks";

function manyTasks(count: number): Task[] {
  return Array.from({ length: count }, (_, i) =>
    makeTask({ task_id: `${String(i).padStart(8, "0")}-aaaa-4aaa-8aaa-aaaaaaaaaaaa` }),
  );
}

describe("ListTasks", () => {
  it("puts only the rows in view into the page, even with 10,000 tasks", () => {
    const tasks = manyTasks(10_000);
    render(<ListTasks tasks={tasks} selectedId={null} onSelect={vi.fn()} onCancel={vi.fn()} now={0} />);
    const rows = document.querySelectorAll("tr[data-task-id]");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(60);
    expect(screen.getByRole("table", { name: "Tasks" })).toHaveAttribute("aria-rowcount", "10001");
    expect(screen.getByText("00000000")).toBeInTheDocument();
    expect(screen.queryByText("00009999")).toBeNull();
  });

  it("shows the rows further down after scrolling", () => {
    const tasks = manyTasks(10_000);
    render(<ListTasks tasks={tasks} selectedId={null} onSelect={vi.fn()} onCancel={vi.fn()} now={0} rowHeight={40} />);
    const scroller = document.querySelector(".table-scroll");
    if (scroller === null) throw new Error("no scroll box");
    fireEvent.scroll(scroller, { target: { scrollTop: 9_000 * 40 } });
    expect(screen.getByText("00009000")).toBeInTheDocument();
    expect(screen.queryByText("00000000")).toBeNull();
    expect(document.querySelectorAll("tr[data-task-id]").length).toBeLessThan(60);
  });

  it("shows type, status, progress and duration for each task", () => {
    const task = makeTask({
      task_type: "generate_report",
      status: "processing",
      progress: 0.4,
      started_at: "2026-11-28T06:00:00Z",
    });
    render(<ListTasks tasks={[task]} selectedId={null} onSelect={vi.fn()} onCancel={vi.fn()}
      now={Date.parse("2026-11-28T06:00:12.5Z")} />);
    const row = document.querySelector<HTMLElement>(`tr[data-task-id="${task.task_id}"]`)!;
    expect(within(row).getByText("Generate report")).toBeInTheDocument();
    expect(within(row).getByText("processing")).toBeInTheDocument();
    expect(within(row).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "40");
    expect(within(row).getByText("12.5 s")).toBeInTheDocument();
  });

  it("shows priority, attempts of the most allowed, and a countdown for a task that waits", () => {
    const now = Date.parse("2026-11-28T06:00:00Z");
    const delayed = makeTask({ priority: 9, run_at: "2026-11-28T06:00:12Z" });
    const retrying = makeTask({ attempts: 2, max_retries: 2, run_at: "2026-11-28T06:00:04Z" });
    const due = makeTask({ run_at: "2026-11-28T05:59:59Z" });
    render(<ListTasks tasks={[delayed, retrying, due]} selectedId={null} onSelect={vi.fn()} onCancel={vi.fn()} now={now} />);
    const row = (task: Task) => within(document.querySelector<HTMLElement>(`tr[data-task-id="${task.task_id}"]`)!);
    expect(row(delayed).getByTestId("priority")).toHaveTextContent("9");
    expect(row(delayed).getByTestId("countdown")).toHaveTextContent("starts in 12 s");
    expect(row(retrying).getByTestId("attempts")).toHaveTextContent("2/3");
    expect(row(retrying).getByTestId("countdown")).toHaveTextContent("retry in 4 s");
    expect(row(due).queryByTestId("countdown")).toBeNull();
    expect(row(due).getByRole("progressbar")).toBeInTheDocument();
  });

  it("says a queued task waits for other tasks, instead of showing its progress", () => {
    const [first, second] = [makeTask({ status: "processing" }), makeTask({ status: "processing" })];
    const one = makeTask({ depends_on: [first.task_id], waiting_for: [first.task_id] });
    const two = makeTask({ depends_on: [first.task_id, second.task_id], waiting_for: [first.task_id, second.task_id] });
    const released = makeTask({ depends_on: [first.task_id], waiting_for: [] });
    const now = Date.parse(one.run_at);
    render(<ListTasks tasks={[one, two, released]} selectedId={null} onSelect={vi.fn()} onCancel={vi.fn()} now={now} />);
    const row = (task: Task) => within(document.querySelector<HTMLElement>(`tr[data-task-id="${task.task_id}"]`)!);
    expect(row(one).getByTestId("waiting")).toHaveTextContent("waiting for 1 task");
    expect(row(two).getByTestId("waiting")).toHaveTextContent("waiting for 2 tasks");
    expect(row(two).queryByRole("progressbar")).toBeNull();
    expect(row(released).queryByTestId("waiting")).toBeNull();
    expect(row(released).getByRole("progressbar")).toBeInTheDocument();
  });

  it("selects a row by click or by keyboard", async () => {
    const [first, second] = [makeTask(), makeTask()];
    const onSelect = vi.fn();
    render(<ListTasks tasks={[first!, second!]} selectedId={null} onSelect={onSelect} onCancel={vi.fn()} now={0} />);
    await userEvent.click(screen.getByText(first!.task_id.slice(0, 8)));
    expect(onSelect).toHaveBeenLastCalledWith(first!.task_id);
    document.querySelector<HTMLElement>(`tr[data-task-id="${second!.task_id}"]`)!.focus();
    await userEvent.keyboard("{Enter}");
    expect(onSelect).toHaveBeenLastCalledWith(second!.task_id);
  });

  it("offers cancel only on queued and processing tasks, without selecting the row", async () => {
    const queued = makeTask({ status: "queued" });
    const done = makeTask({ status: "completed", progress: 1 });
    const onSelect = vi.fn();
    const onCancel = vi.fn(() => Promise.resolve());
    render(<ListTasks tasks={[queued, done]} selectedId={null} onSelect={onSelect} onCancel={onCancel} now={0} />);
    const buttons = screen.getAllByRole("button", { name: /cancel task/i });
    expect(buttons).toHaveLength(1);
    await userEvent.click(buttons[0]!);
    expect(onCancel).toHaveBeenCalledWith(queued.task_id);
    expect(onSelect).not.toHaveBeenCalled();
  });

  it("keeps a row's Cancel the width of its column while the cancel is on its way: dimmed, not relabelled", async () => {
    const queued = makeTask({ status: "queued" });
    let answer: () => void = () => undefined;
    const onCancel = vi.fn(() => new Promise<void>((resolve) => (answer = resolve)));
    render(<ListTasks tasks={[queued]} selectedId={null} onSelect={vi.fn()} onCancel={onCancel} now={0} />);
    const button = screen.getByRole("button", { name: /cancel task/i });
    await userEvent.click(button);
    expect(button).toBeDisabled();
    expect(button).toHaveAttribute("aria-busy", "true");
    expect(button).toHaveTextContent(/^Cancel$/);
    answer();
  });
});
