import { describe, expect, it } from "vitest";
import { makeEvent, makeTask } from "../../test/fakes";
import { applyEvents, countByStatus, tasksFromSnapshot, visibleTasks } from "./taskEvents";

describe("applyEvents", () => {
  it("adds a submitted task and follows it to completed", () => {
    const task = makeTask();
    let tasks = applyEvents(new Map(), [makeEvent("submitted", task)]);
    expect(tasks.get(task.task_id)?.status).toBe("queued");
    tasks = applyEvents(tasks, [
      makeEvent("started", task),
      makeEvent("progress", { ...task, progress: 0.5 }),
      makeEvent("completed", { ...task, progress: 1, result: 6 }),
    ]);
    expect(tasks.get(task.task_id)).toMatchObject({ status: "completed", progress: 1, result: 6 });
  });

  it("never moves a finished task back when an older event arrives late", () => {
    const task = makeTask();
    const done = applyEvents(new Map(), [makeEvent("completed", { ...task, progress: 1 })]);
    const after = applyEvents(done, [makeEvent("started", task), makeEvent("progress", { ...task, progress: 0.3 })]);
    expect(after.get(task.task_id)?.status).toBe("completed");
    expect(after).toBe(done);
  });

  it("never lowers the progress of a running task", () => {
    const task = makeTask({ status: "processing", progress: 0.6 });
    const tasks = tasksFromSnapshot([task]);
    const after = applyEvents(tasks, [makeEvent("progress", { ...task, progress: 0.2 })]);
    expect(after.get(task.task_id)?.progress).toBe(0.6);
  });

  it("forgets a removed task", () => {
    const task = makeTask({ status: "completed" });
    const tasks = applyEvents(tasksFromSnapshot([task]), [makeEvent("removed", task)]);
    expect(tasks.size).toBe(0);
  });

  it("returns the same map when a batch changes nothing, so React can skip the render", () => {
    const tasks = tasksFromSnapshot([makeTask()]);
    expect(applyEvents(tasks, [])).toBe(tasks);
    expect(applyEvents(tasks, [makeEvent("removed", makeTask())])).toBe(tasks);
  });
});

describe("visibleTasks and countByStatus", () => {
  it("shows the newest first and filters by status", () => {
    const old = makeTask({ status: "completed" });
    const mid = makeTask({ status: "queued" });
    const fresh = makeTask({ status: "completed" });
    const tasks = tasksFromSnapshot([old, mid, fresh]);
    expect(visibleTasks(tasks, null).map((task) => task.task_id)).toEqual([fresh.task_id, mid.task_id, old.task_id]);
    expect(visibleTasks(tasks, "completed").map((task) => task.task_id)).toEqual([fresh.task_id, old.task_id]);
    expect(countByStatus(tasks.values())).toEqual({ queued: 1, processing: 0, completed: 2, failed: 0, cancelled: 0 });
  });
});
