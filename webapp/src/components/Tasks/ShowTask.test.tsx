import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { makeTask } from "../../../test/fakes";
import type { Task } from "../../api/types";
import { tasksFromSnapshot } from "../../state/taskEvents";
import { ShowTask } from "./ShowTask";

/** first → second → third, and a fourth that waits for the first too. */
function chain(): Task[] {
  const first = makeTask({ status: "processing", task_type: "generate_report" });
  const second = makeTask({ depends_on: [first.task_id], waiting_for: [first.task_id] });
  const third = makeTask({ depends_on: [second.task_id], waiting_for: [second.task_id] });
  const fourth = makeTask({ depends_on: [first.task_id], waiting_for: [first.task_id] });
  return [first, second, third, fourth];
}

function showing(task: Task, tasks: readonly Task[], onSelect = vi.fn()) {
  render(<ShowTask taskId={task.task_id} task={task} tasks={tasksFromSnapshot(tasks)} now={0}
    onCancel={vi.fn()} onClose={vi.fn()} onSelect={onSelect} />);
  return within(screen.getByRole("region", { name: "Task details" }));
}

function linked(panel: ReturnType<typeof within>, list: string): string[] {
  const items = within(panel.getByRole("list", { name: list })).getAllByRole("listitem");
  return items.map((item) => item.textContent ?? "");
}

describe("ShowTask's dependencies", () => {
  it("links what a task depends on and waits for, and its dependants, each with its status", async () => {
    const [first, second, third] = chain() as [Task, Task, Task, Task];
    const onSelect = vi.fn();
    const panel = showing(second, [first, second, third], onSelect);
    expect(linked(panel, "Depends on")).toEqual([`${first.task_id.slice(0, 8)}Generate reportprocessing`]);
    expect(linked(panel, "Waiting for")).toEqual([`${first.task_id.slice(0, 8)}Generate reportprocessing`]);
    expect(linked(panel, "Dependants")).toEqual([`${third.task_id.slice(0, 8)}Compute sumqueued`]);

    const dependencies = within(panel.getByRole("list", { name: "Depends on" }));
    await userEvent.click(dependencies.getByRole("button", { name: `Open task ${first.task_id}` }));
    expect(onSelect).toHaveBeenLastCalledWith(first.task_id);
    const dependants = within(panel.getByRole("list", { name: "Dependants" }));
    await userEvent.click(dependants.getByRole("button", { name: `Open task ${third.task_id}` }));
    expect(onSelect).toHaveBeenLastCalledWith(third.task_id);
  });

  it("lists every dependant the monitor holds, and none for a task nothing waits for", () => {
    const [first, second, third, fourth] = chain() as [Task, Task, Task, Task];
    const panel = showing(first, [first, second, third, fourth]);
    expect(linked(panel, "Dependants").map((text) => text.slice(0, 8))).toEqual(
      [second.task_id.slice(0, 8), fourth.task_id.slice(0, 8)],
    );
    expect(panel.queryByRole("list", { name: "Depends on" })).toBeNull();
    expect(panel.queryByRole("list", { name: "Waiting for" })).toBeNull();
    cleanup();
    const last = showing(third, [first, second, third, fourth]);
    expect(last.queryByRole("list", { name: "Dependants" })).toBeNull();
  });

  it("still links a dependency the monitor does not hold, saying it is not loaded", () => {
    const [first, second] = chain() as [Task, Task, Task, Task];
    const panel = showing(second, [second]);
    expect(linked(panel, "Depends on")).toEqual([`${first.task_id.slice(0, 8)}not loaded`]);
  });

  it("says no more that a task waits once what it waited for completed", () => {
    const first = makeTask({ status: "completed", progress: 1 });
    const second = makeTask({ status: "processing", depends_on: [first.task_id], waiting_for: [] });
    const panel = showing(second, [first, second]);
    expect(linked(panel, "Depends on")).toEqual([`${first.task_id.slice(0, 8)}Compute sumcompleted`]);
    expect(panel.queryByRole("list", { name: "Waiting for" })).toBeNull();
  });

  it("shows why a task was cancelled when a dependency did not complete", () => {
    const first = makeTask({ status: "failed" });
    const second = makeTask({
      status: "cancelled",
      depends_on: [first.task_id],
      waiting_for: [first.task_id],
      error: { type: "dependency_failed", message: `dependency ${first.task_id} failed` },
    });
    const panel = showing(second, [first, second]);
    expect(panel.getByTestId("task-error")).toHaveTextContent(`dependency_failed: dependency ${first.task_id} failed`);
    expect(panel.queryByRole("list", { name: "Waiting for" })).toBeNull();
  });
});
