import { describe, expect, it } from "vitest";
import { makeEvent, makeTask } from "../../test/fakes";
import type { Task } from "../api/types";
import { applyEvents, mergeSnapshot, tasksFromSnapshot, visibleTasks, type TaskMap } from "./taskEvents";

/** A task created `second` seconds after 06:00:00. */
function createdAt(second: number, overrides: Partial<Task> = {}): Task {
  return makeTask({ created_at: new Date(Date.UTC(2026, 10, 28, 6, 0, second)).toISOString(), ...overrides });
}

function ids(tasks: readonly Task[]): string[] {
  return tasks.map((task) => task.task_id);
}

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

  it("puts a task back to queued on a retry, with its attempts and last error", () => {
    const task = makeTask({ max_retries: 1 });
    const crash = { type: "crash", message: "the worker crashed" };
    let tasks = applyEvents(new Map(), [makeEvent("submitted", task), makeEvent("started", task)]);
    const running = tasks.get(task.task_id)!;
    expect(running).toMatchObject({ status: "processing", attempts: 1 });
    const retryAt = "2026-11-28T06:00:09Z";
    tasks = applyEvents(tasks, [makeEvent("retrying", { ...running, error: crash, run_at: retryAt })]);
    expect(tasks.get(task.task_id)).toMatchObject({ status: "queued", attempts: 1, error: crash, run_at: retryAt });
    tasks = applyEvents(tasks, [makeEvent("started", tasks.get(task.task_id)!)]);
    expect(tasks.get(task.task_id)).toMatchObject({ status: "processing", attempts: 2 });
  });

  it("keeps a running attempt when the view of it waiting for that attempt arrives late", () => {
    const waiting = makeTask({ attempts: 1, error: { type: "crash", message: "crashed" }, max_retries: 2 });
    const second = { ...waiting, status: "processing" as const, attempts: 2 };
    const tasks = tasksFromSnapshot([second]);
    expect(applyEvents(tasks, [makeEvent("retrying", waiting)])).toBe(tasks);
    // The snapshot crossed the retry on the wire: the retry wins over the attempt it ended.
    const first = { ...waiting, status: "processing" as const, error: null };
    const merged = mergeSnapshot(tasksFromSnapshot([waiting]), [first], new Set());
    expect(merged.get(waiting.task_id)?.status).toBe("queued");
  });

  it("forgets a removed task", () => {
    const task = makeTask({ status: "completed" });
    const tasks = applyEvents(tasksFromSnapshot([task]), [makeEvent("removed", task)]);
    expect(tasks.size).toBe(0);
  });

  it("stops a task waiting for another once that one completes, though no event says so", () => {
    const first = makeTask({ status: "processing" });
    const other = makeTask({ status: "processing" });
    const second = makeTask({ depends_on: [first.task_id, other.task_id], waiting_for: [first.task_id, other.task_id] });
    const third = makeTask({ depends_on: [second.task_id], waiting_for: [second.task_id] });
    let tasks: TaskMap = tasksFromSnapshot([first, other, second, third]);
    tasks = applyEvents(tasks, [makeEvent("completed", first)]);
    expect(tasks.get(second.task_id)).toMatchObject({ status: "queued", waiting_for: [other.task_id] });
    expect(tasks.get(second.task_id)?.depends_on).toEqual([first.task_id, other.task_id]);
    expect(tasks.get(third.task_id)?.waiting_for).toEqual([second.task_id]);
    tasks = applyEvents(tasks, [makeEvent("completed", other)]);
    expect(tasks.get(second.task_id)?.waiting_for).toEqual([]);
  });

  it("keeps a task waiting when what it waits for fails", () => {
    const first = makeTask({ status: "processing" });
    const second = makeTask({ depends_on: [first.task_id], waiting_for: [first.task_id] });
    const tasks = tasksFromSnapshot([first, second]);
    const after = applyEvents(tasks, [makeEvent("failed", first)]);
    // The server cancels it with its own event; until then it still waits.
    expect(after.get(second.task_id)?.waiting_for).toEqual([first.task_id]);
  });

  it("returns the same map when a batch changes nothing, so React can skip the render", () => {
    const tasks = tasksFromSnapshot([makeTask()]);
    expect(applyEvents(tasks, [])).toBe(tasks);
    expect(applyEvents(tasks, [makeEvent("removed", makeTask())])).toBe(tasks);
  });
});

describe("visibleTasks", () => {
  it("shows the newest first and filters by status", () => {
    const old = makeTask({ status: "completed" });
    const mid = makeTask({ status: "queued" });
    const fresh = makeTask({ status: "completed" });
    const tasks = tasksFromSnapshot([old, mid, fresh]);
    expect(ids(visibleTasks(tasks, null))).toEqual([fresh.task_id, mid.task_id, old.task_id]);
    expect(ids(visibleTasks(tasks, "completed"))).toEqual([fresh.task_id, old.task_id]);
  });

  it("shows the newest first whether the API listed the snapshot newest or oldest first", () => {
    const [a, b, c] = [createdAt(1), createdAt(2), createdAt(3)];
    const newestFirst = tasksFromSnapshot([c!, b!, a!]);
    const oldestFirst = tasksFromSnapshot([a!, b!, c!]);
    expect(ids(visibleTasks(newestFirst, null))).toEqual([c!.task_id, b!.task_id, a!.task_id]);
    expect(ids(visibleTasks(oldestFirst, null))).toEqual([c!.task_id, b!.task_id, a!.task_id]);
  });

  it("keeps the server's order for tasks created in the same millisecond", () => {
    const [first, second, third] = [createdAt(5), createdAt(5), createdAt(6)];
    const tasks = tasksFromSnapshot([third!, second!, first!]); // newest first, as order=newest sends
    expect(ids(visibleTasks(tasks, null))).toEqual([third!.task_id, second!.task_id, first!.task_id]);
  });

  it("puts a new task on top, and an older one the snapshot lacked in its place", () => {
    const [old, mid, recent] = [createdAt(1), createdAt(10), createdAt(20)];
    let tasks = applyEvents(tasksFromSnapshot([recent!, mid!]), [makeEvent("submitted", createdAt(30))]);
    const newest = visibleTasks(tasks, null)[0]!;
    expect(newest.created_at).toBe(createdAt(30).created_at);
    // An old task the snapshot did not hold starts running: it joins below the newer ones.
    tasks = applyEvents(tasks, [makeEvent("started", { ...old!, started_at: old!.created_at })]);
    expect(ids(visibleTasks(tasks, null))).toEqual([newest.task_id, recent!.task_id, mid!.task_id, old!.task_id]);
  });
});

describe("mergeSnapshot", () => {
  it("takes the snapshot's tasks and drops those it no longer lists", () => {
    const [gone, kept] = [createdAt(1), createdAt(2)];
    const merged = mergeSnapshot(tasksFromSnapshot([gone!, kept!]), [kept!], new Set());
    expect([...merged.keys()]).toEqual([kept!.task_id]);
  });

  it("keeps a task submitted while the snapshot was on its way", () => {
    const [listed, submitted] = [createdAt(1), createdAt(2)];
    const current = applyEvents(new Map(), [makeEvent("submitted", submitted!)]);
    const merged = mergeSnapshot(current, [listed!], new Set([submitted!.task_id]));
    expect(ids(visibleTasks(merged, null))).toEqual([submitted!.task_id, listed!.task_id]);
  });

  it("does not bring back a task removed while the snapshot was on its way", () => {
    const removed = createdAt(1, { status: "completed", progress: 1 });
    const current = applyEvents(tasksFromSnapshot([removed]), [makeEvent("removed", removed)]);
    const merged = mergeSnapshot(current, [removed], new Set([removed.task_id]));
    expect(merged.size).toBe(0);
  });

  it("does not bring back a wait for a task that completed while the snapshot was on its way", () => {
    const first = createdAt(1, { status: "processing" });
    const second = createdAt(2, { depends_on: [first.task_id], waiting_for: [first.task_id] });
    const current = applyEvents(tasksFromSnapshot([first, second]), [makeEvent("completed", first)]);
    const merged = mergeSnapshot(current, [first, second], new Set([first.task_id]));
    expect(merged.get(first.task_id)?.status).toBe("completed");
    expect(merged.get(second.task_id)?.waiting_for).toEqual([]);
  });

  it("never moves a task back when the snapshot is older than an event", () => {
    const task = createdAt(1);
    const current = applyEvents(new Map(), [makeEvent("completed", { ...task, progress: 1 })]);
    const merged = mergeSnapshot(current, [task], new Set([task.task_id]));
    expect(merged.get(task.task_id)?.status).toBe("completed");
  });
});
