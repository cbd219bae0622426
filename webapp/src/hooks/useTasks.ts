/** The tasks the monitor shows: one snapshot from `GET /tasks`, then live events. */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, cancelTask, listTasks } from "../api/client";
import type { Task, TaskEvent } from "../api/types";
import { applyEvents, newerTask, type TaskMap } from "../state/taskEvents";

export interface UseTasks {
  tasks: TaskMap;
  /** False until the first snapshot has arrived. */
  loaded: boolean;
  /** Why the last snapshot failed, if it did; it is retried by itself. */
  error: ApiError | null;
  /** Folds a batch of events into the tasks (one render). */
  applyBatch: (events: TaskEvent[]) => void;
  /** Loads the snapshot again (after a resync). */
  reload: () => void;
  /** Asks the server to cancel a task; resolves to the task as the server answered. */
  cancel: (taskId: string) => Promise<Task>;
}

export interface UseTasksOptions {
  /** Told about every 429 so the monitor can say when to retry. */
  onRateLimited?: (error: ApiError) => void;
}

const RETRY_MS = 5_000;

export function useTasks({ onRateLimited }: UseTasksOptions = {}): UseTasks {
  const [tasks, setTasks] = useState<TaskMap>(() => new Map());
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // Ids that events touched while a snapshot was on its way: the snapshot cannot know them.
  const touchedSinceLoad = useRef<Set<string> | null>(null);
  const loading = useRef(false);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const rateLimited = useRef(onRateLimited);
  rateLimited.current = onRateLimited;
  const mounted = useRef(true);

  const reload = useCallback((): void => {
    if (loading.current) return;
    loading.current = true;
    touchedSinceLoad.current = new Set();
    if (retryTimer.current !== null) clearTimeout(retryTimer.current);
    listTasks()
      .then((snapshot) => {
        if (!mounted.current) return;
        const touched = touchedSinceLoad.current ?? new Set<string>();
        setTasks((current) => {
          const next = new Map<string, Task>();
          for (const task of snapshot) next.set(task.task_id, newerTask(current.get(task.task_id), task));
          for (const id of touched) {
            const live = current.get(id);
            if (live !== undefined && !next.has(id)) next.set(id, live);
          }
          return next;
        });
        setLoaded(true);
        setError(null);
      })
      .catch((reason: unknown) => {
        if (!mounted.current) return;
        const failure = reason instanceof ApiError ? reason : new ApiError(0, String(reason), null);
        setError(failure);
        if (failure.isRateLimited) rateLimited.current?.(failure);
        const delay = failure.retryAfter !== null ? failure.retryAfter * 1000 : RETRY_MS;
        retryTimer.current = setTimeout(() => {
          retryTimer.current = null;
          reload();
        }, Math.max(delay, 1_000));
      })
      .finally(() => {
        loading.current = false;
        touchedSinceLoad.current = null;
      });
  }, []);

  useEffect(() => {
    mounted.current = true;
    reload();
    return () => {
      mounted.current = false;
      if (retryTimer.current !== null) clearTimeout(retryTimer.current);
    };
  }, [reload]);

  const applyBatch = useCallback((events: TaskEvent[]): void => {
    const touched = touchedSinceLoad.current;
    if (touched !== null) for (const event of events) touched.add(event.task_id);
    setTasks((current) => applyEvents(current, events));
  }, []);

  const cancel = useCallback(async (taskId: string): Promise<Task> => {
    try {
      const task = await cancelTask(taskId);
      setTasks((current) => applyEvents(current, [eventFor(task)]));
      return task;
    } catch (reason) {
      if (reason instanceof ApiError && reason.isRateLimited) rateLimited.current?.(reason);
      throw reason;
    }
  }, []);

  return { tasks, loaded, error, applyBatch, reload, cancel };
}

function eventFor(task: Task): TaskEvent {
  return { kind: "cancelled", task_id: task.task_id, status: task.status, progress: task.progress, task };
}
