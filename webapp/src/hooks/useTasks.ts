/** The tasks the monitor shows: one snapshot of the newest from `GET /tasks`, then live events. */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, cancelTask, listTasks } from "../api/client";
import type { Task, TaskEvent } from "../api/types";
import { statusChanges, type StatusChange } from "../state/statusTally";
import { applyEvents, mergeSnapshot, type TaskMap } from "../state/taskEvents";

export interface UseTasks {
  tasks: TaskMap;
  /** False until the first snapshot has arrived. */
  loaded: boolean;
  /** The last snapshot held only the newest tasks: more are kept than the monitor loaded. */
  truncated: boolean;
  /** Why the last snapshot failed, if it did; the tasks shown stay as they were meanwhile. */
  error: ApiError | null;
  /** When the failed snapshot is asked for again (epoch ms), or null. */
  retryAt: number | null;
  /** Folds a batch of events into the tasks (one render). */
  applyBatch: (events: TaskEvent[]) => void;
  /** Loads the snapshot again (after a resync, or when a new stream had to be opened). */
  reload: () => void;
  /** Asks the server to cancel a task; resolves to the task as the server answered. */
  cancel: (taskId: string) => Promise<Task>;
}

export interface UseTasksOptions {
  /** Told about every 429 so the monitor can say when to retry. */
  onRateLimited?: (error: ApiError) => void;
  /** Told how events and cancels moved tasks between statuses (not what a snapshot corrects). */
  onStatusChanges?: (changes: StatusChange[]) => void;
}

/** Wait before retrying a snapshot that failed without a Retry-After. */
const RETRY_MS = 5_000;
const NO_TASKS: TaskMap = new Map();

export function useTasks({ onRateLimited, onStatusChanges }: UseTasksOptions = {}): UseTasks {
  const [tasks, setTasks] = useState<TaskMap>(NO_TASKS);
  const [loaded, setLoaded] = useState(false);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [retryAt, setRetryAt] = useState<number | null>(null);
  // The tasks as of the last change, ahead of React's render: each batch folds into this.
  const current = useRef<TaskMap>(NO_TASKS);
  // Ids that events touched while a snapshot was on its way: the snapshot cannot know them.
  const touchedSinceLoad = useRef<Set<string> | null>(null);
  const loading = useRef(false);
  // A reload was asked for while a snapshot was on its way, which may predate what it is for.
  const stale = useRef(false);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const callbacks = useRef({ onRateLimited, onStatusChanges });
  callbacks.current = { onRateLimited, onStatusChanges };
  const mounted = useRef(true);

  const commit = useCallback((next: TaskMap, events: readonly TaskEvent[] | null): void => {
    const before = current.current;
    if (next === before) return;
    current.current = next;
    setTasks(next);
    if (events !== null) {
      const changes = statusChanges(before, next, events);
      if (changes.length > 0) callbacks.current.onStatusChanges?.(changes);
    }
  }, []);

  const load = useCallback((): void => {
    if (retryTimer.current !== null) clearTimeout(retryTimer.current);
    retryTimer.current = null;
    loading.current = true;
    stale.current = false;
    const touched = new Set<string>();
    touchedSinceLoad.current = touched;
    listTasks()
      .then(
        (page) => {
          if (!mounted.current) return;
          commit(mergeSnapshot(current.current, page.tasks, touched), null);
          setLoaded(true);
          setTruncated(page.truncated);
          setError(null);
          setRetryAt(null);
        },
        (reason: unknown) => {
          if (!mounted.current) return;
          // Nothing shown is dropped: the tasks stay as they were until a snapshot arrives.
          const failure = reason instanceof ApiError ? reason : new ApiError(0, String(reason), null);
          if (failure.isRateLimited) callbacks.current.onRateLimited?.(failure);
          // A 401 waits for a key: the prompt takes over, and a new key loads a new monitor.
          if (failure.status === 401) {
            setError(failure);
            return;
          }
          const delay = Math.max(failure.retryAfter !== null ? failure.retryAfter * 1000 : RETRY_MS, 1_000);
          setError(failure);
          setRetryAt(Date.now() + delay);
          retryTimer.current = setTimeout(load, delay);
        },
      )
      .finally(() => {
        loading.current = false;
        touchedSinceLoad.current = null;
        if (stale.current && mounted.current && retryTimer.current === null) load();
      });
  }, [commit]);

  const reload = useCallback((): void => {
    if (loading.current) stale.current = true;
    // After a failure the retry is already set for when the server accepts requests again.
    else if (retryTimer.current === null) load();
  }, [load]);

  useEffect(() => {
    mounted.current = true;
    // React's StrictMode mounts twice in development: the second mount finds the first
    // snapshot on its way and asks for no other, so a page load costs one snapshot.
    if (!loading.current && retryTimer.current === null) load();
    return () => {
      mounted.current = false;
      if (retryTimer.current !== null) clearTimeout(retryTimer.current);
      retryTimer.current = null;
    };
  }, [load]);

  const applyBatch = useCallback(
    (events: TaskEvent[]): void => {
      const touched = touchedSinceLoad.current;
      if (touched !== null) for (const event of events) touched.add(event.task_id);
      commit(applyEvents(current.current, events), events);
    },
    [commit],
  );

  const cancel = useCallback(
    async (taskId: string): Promise<Task> => {
      try {
        const task = await cancelTask(taskId);
        const cancelled = [eventFor(task)];
        if (mounted.current) commit(applyEvents(current.current, cancelled), cancelled);
        return task;
      } catch (reason) {
        if (reason instanceof ApiError && reason.isRateLimited) callbacks.current.onRateLimited?.(reason);
        throw reason;
      }
    },
    [commit],
  );

  return { tasks, loaded, truncated, error, retryAt, applyBatch, reload, cancel };
}

function eventFor(task: Task): TaskEvent {
  return { kind: "cancelled", task_id: task.task_id, status: task.status, progress: task.progress, task };
}
