/** Pure functions that fold the snapshot and the event stream into the monitor's table of tasks. */
import type { Task, TaskEvent, TaskStatus } from "../api/types";
import { TERMINAL_STATUSES } from "../api/types";

/**
 * Tasks by id, oldest first by `created_at` (a Map keeps insertion order), so the table
 * shows the newest on top whichever order the API listed them in and whenever an event
 * brought in a task the snapshot did not hold.
 */
export type TaskMap = ReadonlyMap<string, Task>;

function createdMs(task: Task): number {
  return Date.parse(task.created_at);
}

/** Oldest first by creation; tasks created in the same millisecond keep the order given. */
function byCreation(tasks: readonly Task[]): Task[] {
  const keyed = tasks.map((task, index) => ({ task, at: createdMs(task), index }));
  keyed.sort((a, b) => a.at - b.at || a.index - b.index);
  return keyed.map((entry) => entry.task);
}

/** A list as the API sent it (oldest or newest first), turned oldest first. */
function oldestFirst(tasks: readonly Task[]): readonly Task[] {
  const first = tasks[0];
  const last = tasks.at(-1);
  const newestFirst = first !== undefined && last !== undefined && createdMs(first) > createdMs(last);
  return newestFirst ? [...tasks].reverse() : tasks;
}

function byId(tasks: readonly Task[]): Map<string, Task> {
  return new Map(tasks.map((task) => [task.task_id, task]));
}

export function tasksFromSnapshot(tasks: readonly Task[]): Map<string, Task> {
  return byId(byCreation(oldestFirst(tasks)));
}

/**
 * The tasks after a new snapshot arrived. `touched` are the ids events changed while the
 * snapshot was on its way: the snapshot cannot know about those changes, so a task an
 * event removed stays removed, and one an event brought in stays even if the snapshot
 * lacks it. Tasks the snapshot does not hold and no event touched are dropped.
 */
export function mergeSnapshot(current: TaskMap, snapshot: readonly Task[], touched: ReadonlySet<string>): TaskMap {
  const merged: Task[] = [];
  const listed = new Set<string>();
  for (const task of oldestFirst(snapshot)) {
    const live = current.get(task.task_id);
    if (live === undefined && touched.has(task.task_id)) continue; // removed while the snapshot travelled
    merged.push(newerTask(live, task));
    listed.add(task.task_id);
  }
  for (const id of touched) {
    const live = current.get(id);
    if (live !== undefined && !listed.has(id)) merged.push(live);
  }
  // A task the snapshot still shows waiting may wait for one an event has since completed.
  const completed = new Set(merged.filter((task) => task.status === "completed").map((task) => task.task_id));
  return byId(byCreation(merged.map((task) => released(task, completed))));
}

/**
 * The task without the completed ones among those it waits for. The server announces no
 * change when a dependency completes (the dependant's next event carries it), so the
 * monitor works it out itself. Returns the same task when nothing changed.
 */
export function released(task: Task, completed: ReadonlySet<string>): Task {
  if (task.waiting_for.length === 0 || !task.waiting_for.some((id) => completed.has(id))) return task;
  return { ...task, waiting_for: task.waiting_for.filter((id) => !completed.has(id)) };
}

/**
 * How far along its life a view of a task is: queued before attempt n+1 (2n), running
 * attempt n (2n-1), finished (last). A retry puts a task back to `queued` with more
 * attempts, which is later than the attempt that failed.
 */
function stage(task: Task): number {
  if (TERMINAL_STATUSES.has(task.status)) return Number.POSITIVE_INFINITY;
  const attempts = task.attempts ?? 0;
  return task.status === "processing" ? 2 * Math.max(1, attempts) - 1 : 2 * attempts;
}

/**
 * The newer of two views of one task. Events and the snapshot can cross on the wire, so
 * an older view never wins: a terminal task stays terminal, a running attempt does not go
 * back to waiting for itself, and progress never goes back within one attempt.
 */
export function newerTask(current: Task | undefined, incoming: Task): Task {
  if (current === undefined) return incoming;
  const currentStage = stage(current);
  const incomingStage = stage(incoming);
  if (incomingStage < currentStage) return current;
  if (incomingStage === currentStage && current.status === incoming.status && incoming.progress < current.progress) {
    return current;
  }
  return incoming;
}

function lastCreatedMs(tasks: TaskMap): number {
  let last: Task | undefined;
  for (const task of tasks.values()) last = task;
  return last === undefined ? Number.NEGATIVE_INFINITY : createdMs(last);
}

/**
 * Applies a batch of events to the tasks in one step, returning the same Map when
 * nothing changed so React can skip the render.
 */
export function applyEvents(tasks: TaskMap, events: readonly TaskEvent[]): TaskMap {
  let next: Map<string, Task> | null = null;
  const writable = (): Map<string, Task> => (next ??= new Map(tasks));
  // Creation time of the newest task held; computed only when a task joins.
  let newest: number | null = null;
  let outOfOrder = false;
  let completed: Set<string> | null = null;
  for (const event of events) {
    if (event.kind === "completed") (completed ??= new Set()).add(event.task_id);
    if (event.kind === "removed") {
      if ((next ?? tasks).has(event.task_id)) writable().delete(event.task_id);
      continue;
    }
    if (event.task === null) continue;
    const current = (next ?? tasks).get(event.task_id);
    const merged = newerTask(current, event.task);
    if (merged === current) continue;
    if (current === undefined) {
      // New tasks nearly always are the newest; an older one (a change to a task the
      // snapshot did not hold) puts the map back in creation order below.
      newest ??= lastCreatedMs(next ?? tasks);
      const at = createdMs(merged);
      if (at < newest) outOfOrder = true;
      else newest = at;
    }
    writable().set(event.task_id, merged);
  }
  if (completed !== null) {
    // One pass for the whole batch: most batches complete tasks, few tasks wait.
    for (const [id, task] of next ?? tasks) {
      const waiting = released(task, completed);
      if (waiting !== task) writable().set(id, waiting);
    }
  }
  // Assigned only inside `writable`, which the compiler does not follow.
  const changed = next as Map<string, Task> | null;
  if (changed === null) return tasks;
  return outOfOrder ? byId(byCreation([...changed.values()])) : changed;
}

/** Newest first, optionally only one status: the rows the table shows. */
export function visibleTasks(tasks: TaskMap, status: TaskStatus | null): Task[] {
  const rows: Task[] = [];
  for (const task of tasks.values()) {
    if (status === null || task.status === status) rows.push(task);
  }
  return rows.reverse();
}
