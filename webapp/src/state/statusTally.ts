/**
 * Counts per status and the queue depth between two `GET /stats` answers: the last answer,
 * moved by the status changes the monitor saw since. The monitor holds only the newest
 * tasks, so it cannot count them itself; `/stats` counts every task kept, and the next
 * answer replaces whatever the events got wrong, so an error never outlives one refresh.
 */
import type { Stats, StatusCounts, TaskEvent, TaskStatus } from "../api/types";
import { TASK_STATUSES } from "../api/types";
import type { TaskMap } from "./taskEvents";

/**
 * How one task's status moved. `from` is null for a task that did not exist and undefined
 * when the monitor cannot know (a removal of a task it never held); `to` is null once the
 * task is gone.
 */
export interface StatusChange {
  taskId: string;
  from: TaskStatus | null | undefined;
  to: TaskStatus | null;
}

/** The status changes since the last `/stats` answer, one per task (first `from`, last `to`). */
export type ChangesSince = ReadonlyMap<string, StatusChange>;

export interface LiveFigures {
  counts: StatusCounts;
  queueDepth: number;
}

/**
 * The status a task had before `event`, read from the event alone: for a task the monitor
 * does not hold, such as one older than the snapshot.
 */
function statusBefore(event: TaskEvent): TaskStatus | null | undefined {
  switch (event.kind) {
    case "submitted":
      return null;
    case "started":
      return "queued";
    case "progress":
    case "retrying":
    case "completed":
      return "processing";
    case "failed":
    case "cancelled":
      return event.task?.started_at != null ? "processing" : "queued";
    case "removed":
      return undefined;
  }
}

/**
 * The status changes one batch of events made: `before` and `after` are the tasks the
 * monitor held around the batch. A task it did not hold before gets its earlier status
 * from the first event about it.
 */
export function statusChanges(before: TaskMap, after: TaskMap, events: readonly TaskEvent[]): StatusChange[] {
  const first = new Map<string, TaskEvent>();
  for (const event of events) if (!first.has(event.task_id)) first.set(event.task_id, event);
  const changes: StatusChange[] = [];
  for (const [taskId, event] of first) {
    const held = before.get(taskId);
    const from = held !== undefined ? held.status : statusBefore(event);
    const to = after.get(taskId)?.status ?? null;
    if (from !== to) changes.push({ taskId, from, to });
  }
  return changes;
}

/** Adds a batch's changes to those since the last `/stats`: a task keeps its first `from`. */
export function addChanges(since: ChangesSince, changes: readonly StatusChange[]): ChangesSince {
  if (changes.length === 0) return since;
  const next = new Map(since);
  for (const change of changes) {
    const earlier = next.get(change.taskId);
    next.set(change.taskId, earlier === undefined ? change : { ...change, from: earlier.from });
  }
  return next;
}

/** The last `/stats` answer moved by the changes since: what the monitor shows now. */
export function liveFigures(stats: Stats, since: ChangesSince): LiveFigures {
  const counts: StatusCounts = { ...stats.counts };
  for (const change of since.values()) {
    if (change.from != null) counts[change.from] -= 1;
    if (change.to !== null) counts[change.to] += 1;
  }
  const queuedMoved = counts.queued - stats.counts.queued;
  for (const status of TASK_STATUSES) counts[status] = Math.max(0, counts[status]);
  return { counts, queueDepth: Math.max(0, stats.queue_depth + queuedMoved) };
}
