import { describe, expect, it } from "vitest";
import { makeEvent, makeTask } from "../../test/fakes";
import type { Stats, TaskEvent } from "../api/types";
import { addChanges, liveFigures, statusChanges, type ChangesSince } from "./statusTally";
import { applyEvents, tasksFromSnapshot, type TaskMap } from "./taskEvents";

function stats(counts: Partial<Stats["counts"]>, queueDepth = counts.queued ?? 0): Stats {
  return {
    queue_depth: queueDepth,
    workers: { total: 5, busy: counts.processing ?? 0, idle: 5 - (counts.processing ?? 0) },
    counts: { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, ...counts },
    completed_per_minute: [],
    paused: false,
  };
}

/** Applies batches as the monitor does, collecting the status changes since a /stats answer. */
function follow(tasks: TaskMap, batches: TaskEvent[][]): { tasks: TaskMap; since: ChangesSince } {
  let since: ChangesSince = new Map();
  for (const batch of batches) {
    const after = applyEvents(tasks, batch);
    since = addChanges(since, statusChanges(tasks, after, batch));
    tasks = after;
  }
  return { tasks, since };
}

describe("the counts between two /stats answers", () => {
  it("start from the answer, which counts tasks the monitor never loaded", () => {
    const figures = liveFigures(stats({ queued: 3, completed: 20_000 }), new Map());
    expect(figures.counts).toEqual({ queued: 3, processing: 0, completed: 20_000, failed: 0, cancelled: 0 });
    expect(figures.queueDepth).toBe(3);
  });

  it("move with submissions, starts and completions", () => {
    const task = makeTask();
    const { since } = follow(new Map(), [
      [makeEvent("submitted", task)],
      [makeEvent("started", task)],
      [makeEvent("completed", { ...task, progress: 1 })],
      [makeEvent("submitted", makeTask())],
    ]);
    const figures = liveFigures(stats({ queued: 2, completed: 5 }), since);
    expect(figures.counts).toEqual({ queued: 3, processing: 0, completed: 6, failed: 0, cancelled: 0 });
    expect(figures.queueDepth).toBe(3);
  });

  it("count a task once however many events it had, even a repeated one", () => {
    const task = makeTask({ status: "processing", started_at: "2026-11-28T06:00:01Z" });
    const started = makeEvent("started", task);
    const progress = makeEvent("progress", { ...task, progress: 0.5 });
    const { since } = follow(tasksFromSnapshot([{ ...task, status: "queued" }]), [[started, progress], [started]]);
    expect(liveFigures(stats({ queued: 1 }), since).counts).toMatchObject({ queued: 0, processing: 1 });
  });

  it("read a change to a task older than the snapshot from the event itself", () => {
    const queued = makeTask();
    const running = makeTask({ status: "processing", started_at: "2026-11-28T06:00:01Z" });
    const { since } = follow(new Map(), [
      [makeEvent("started", queued)],
      [makeEvent("cancelled", running)],
      [makeEvent("cancelled", makeTask())],
    ]);
    const figures = liveFigures(stats({ queued: 5, processing: 1 }), since);
    expect(figures.counts).toEqual({ queued: 3, processing: 1, completed: 0, failed: 0, cancelled: 2 });
    expect(figures.queueDepth).toBe(3);
  });

  it("move a retried task from processing back to queued, held or not", () => {
    const held = makeTask({ status: "processing", attempts: 1, max_retries: 1 });
    const unseen = makeTask({ status: "processing", attempts: 1, max_retries: 1 });
    const { since } = follow(tasksFromSnapshot([held]), [
      [makeEvent("retrying", held), makeEvent("retrying", unseen)],
    ]);
    const figures = liveFigures(stats({ queued: 0, processing: 3 }), since);
    expect(figures.counts).toMatchObject({ queued: 2, processing: 1 });
    expect(figures.queueDepth).toBe(2);
  });

  it("take a removed task off its status when the monitor held it", () => {
    const done = makeTask({ status: "failed", progress: 1 });
    const { since } = follow(tasksFromSnapshot([done]), [[makeEvent("removed", done)]]);
    expect(liveFigures(stats({ failed: 4 }), since).counts.failed).toBe(3);
  });

  it("report a removal they cannot place, so fresh stats are asked for, and never go below zero", () => {
    const unknown = makeTask({ status: "completed" });
    const changes = statusChanges(new Map(), new Map(), [makeEvent("removed", unknown)]);
    expect(changes).toEqual([{ taskId: unknown.task_id, from: undefined, to: null }]);
    const since = addChanges(new Map(), changes);
    expect(liveFigures(stats({}), addChanges(since, [{ taskId: "x", from: "queued", to: "processing" }])).counts)
      .toMatchObject({ queued: 0, processing: 1 });
  });

  it("ignore an event that arrives after the snapshot already showed its outcome", () => {
    const task = makeTask({ status: "completed", progress: 1 });
    const { since } = follow(tasksFromSnapshot([task]), [[makeEvent("started", { ...task, status: "processing" })]]);
    expect(since.size).toBe(0);
  });
});
