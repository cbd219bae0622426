/** How times, durations and ids read in the monitor. */

/** Local wall-clock time, seconds included; a dash when it has not happened yet. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
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

/** How long a task ran: start to finish, or start to now while it runs. */
export function taskDuration(
  startedAt: string | null | undefined,
  finishedAt: string | null | undefined,
  now: number,
): string {
  if (startedAt === null || startedAt === undefined) return "—";
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
