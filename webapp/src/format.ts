/** How times, durations and ids read in the monitor. */
import type { Task } from "./api/types";

/** Local wall-clock time, seconds included; a dash when it has not happened yet. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** Like formatTime, with the day in front when it is not today ("Fri 4 Dec, 06:30:00"). */
export function formatMoment(iso: string | null | undefined, now: Date = new Date()): string {
  const time = formatTime(iso);
  if (iso === null || iso === undefined || time === "—") return time;
  const date = new Date(iso);
  if (date.toDateString() === now.toDateString()) return time;
  const day = date.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
  return `${day}, ${time}`;
}

/** "850 ms", "4.2 s", "2 m 05 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.floor((ms % 60_000) / 1_000);
  return `${minutes} m ${String(seconds).padStart(2, "0")} s`;
}

/**
 * How long a task's last attempt ran: start to finish, or start to now while it runs.
 * A queued task has no running attempt, even when an earlier one started (it waits for a retry).
 */
export function taskDuration(
  task: Pick<Task, "status" | "started_at" | "finished_at">,
  now: number,
): string {
  const { started_at: startedAt, finished_at: finishedAt } = task;
  if (startedAt === null || startedAt === undefined || task.status === "queued") return "—";
  const running = finishedAt === null || finishedAt === undefined;
  const elapsed = (running ? now : Date.parse(finishedAt)) - Date.parse(startedAt);
  // A running task's clock may lag its start by a moment: show 0, not nothing.
  return formatDuration(running ? Math.max(0, elapsed) : elapsed);
}

/** The first block of a uuid: enough to tell tasks apart at a glance. */
export function shortId(taskId: string): string {
  return taskId.slice(0, 8);
}

export function formatPercent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

export function humanize(name: string): string {
  const spaced = name.replaceAll("_", " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** "12 s", "2 m 05 s", "3 h 04 m": what is left of a wait, rounded up to the second. */
export function formatCountdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1_000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, "0")} s`;
  const minutes = Math.ceil(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} m`;
}

/** "2/3": attempts started so far, of the most the task may get (one plus its retries). */
export function formatAttempts(task: Pick<Task, "attempts" | "max_retries">): string {
  return `${task.attempts}/${1 + task.max_retries}`;
}

/**
 * "starts in 12 s" for a queued task waiting for its delay, "retry in 3 s" for one waiting
 * to be tried again; null when the task may run now (or is not queued).
 */
export function waitText(task: Pick<Task, "status" | "run_at" | "attempts">, now: number): string | null {
  if (task.status !== "queued") return null;
  const left = Date.parse(task.run_at) - now;
  if (!(left > 0)) return null;
  return `${task.attempts > 0 ? "retry in" : "starts in"} ${formatCountdown(left)}`;
}

/** "waiting for 2 tasks" for a queued task whose dependencies have not all completed; null otherwise. */
export function waitingText(task: Pick<Task, "status" | "waiting_for">): string | null {
  const count = task.waiting_for.length;
  if (task.status !== "queued" || count === 0) return null;
  return `waiting for ${count} ${count === 1 ? "task" : "tasks"}`;
}

/** The latest moment a queued task waits for (epoch ms), so a clock ticks until then; -Infinity if none waits. */
export function lastWaitEnds(tasks: Iterable<Task>): number {
  let last = Number.NEGATIVE_INFINITY;
  for (const task of tasks) {
    if (task.status !== "queued") continue;
    const at = Date.parse(task.run_at);
    if (at > last) last = at;
  }
  return last;
}
