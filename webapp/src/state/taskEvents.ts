/** Pure functions that fold the event stream into the monitor's table of tasks. */
import type { Task, TaskEvent, TaskStatus } from "../api/types";
import { TERMINAL_STATUSES } from "../api/types";

/** Tasks by id, in submission order (a Map keeps insertion order). */
export type TaskMap = ReadonlyMap<string, Task>;

export function tasksFromSnapshot(tasks: readonly Task[]): Map<string, Task> {
  return new Map(tasks.map((task) => [task.task_id, task]));
}

/**
 * The newer of two views of one task. Events and the snapshot can cross on the wire, so
 * an older view never wins: a terminal task stays terminal, and progress never goes back.
 */
export function newerTask(current: Task | undefined, incoming: Task): Task {
  if (current === undefined) return incoming;
  const currentDone = TERMINAL_STATUSES.has(current.status);
  if (currentDone && !TERMINAL_STATUSES.has(incoming.status)) return current;
  if (!currentDone && current.status === "processing" && incoming.status === "queued") return current;
  if (current.status === incoming.status && incoming.progress < current.progress) return current;
  return incoming;
}

/**
 * Applies a batch of events to the tasks in one step, returning the same Map when
 * nothing changed so React can skip the render.
 */
export function applyEvents(tasks: TaskMap, events: readonly TaskEvent[]): TaskMap {
  let next: Map<string, Task> | null = null;
  const writable = (): Map<string, Task> => (next ??= new Map(tasks));
  for (const event of events) {
    if (event.kind === "removed") {
      if ((next ?? tasks).has(event.task_id)) writable().delete(event.task_id);
      continue;
    }
    if (event.task === null) continue;
    const current = (next ?? tasks).get(event.task_id);
    const merged = newerTask(current, event.task);
    if (merged !== current) writable().set(event.task_id, merged);
  }
  return next ?? tasks;
}

export type StatusCounts = Record<TaskStatus, number>;

export function countByStatus(tasks: Iterable<Task>): StatusCounts {
  const counts: StatusCounts = { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const task of tasks) counts[task.status] += 1;
  return counts;
}

/** Newest first, optionally only one status: the rows the table shows. */
export function visibleTasks(tasks: TaskMap, status: TaskStatus | null): Task[] {
  const rows: Task[] = [];
  for (const task of tasks.values()) {
    if (status === null || task.status === status) rows.push(task);
  }
  return rows.reverse();
}
