/**
 * A task the monitor does not hold (older than its snapshot, or cleaned up), read once with
 * `GET /tasks/{id}` when a link opens it. Only links ask: a task just submitted or removed
 * costs no request, as its events bring it or say it is gone.
 */
import { useCallback, useRef, useState } from "react";
import { ApiError, getTask } from "../api/client";
import type { Task } from "../api/types";

/** What reading one task gave: the task, nothing yet, not found (404), or why it failed. */
export type LookedUp =
  | { state: "loading" }
  | { state: "found"; task: Task }
  | { state: "missing" }
  | { state: "failed"; detail: string };

export interface UseTaskLookup {
  /** The last task looked up, by id; a task looked up again replaces it. */
  looked: { taskId: string; result: LookedUp } | null;
  lookUp: (taskId: string) => void;
}

export interface UseTaskLookupOptions {
  /** Told about a 429 so the monitor can say when to retry. */
  onRateLimited?: (error: ApiError) => void;
}

export function useTaskLookup({ onRateLimited }: UseTaskLookupOptions = {}): UseTaskLookup {
  const [looked, setLooked] = useState<UseTaskLookup["looked"]>(null);
  // The id asked for last: an answer for another one, come late, is dropped.
  const latest = useRef<string | null>(null);
  const report = useRef(onRateLimited);
  report.current = onRateLimited;

  const lookUp = useCallback((taskId: string): void => {
    latest.current = taskId;
    setLooked({ taskId, result: { state: "loading" } });
    getTask(taskId).then(
      (task) => {
        if (latest.current === taskId) setLooked({ taskId, result: { state: "found", task } });
      },
      (reason: unknown) => {
        if (latest.current !== taskId) return;
        if (reason instanceof ApiError && reason.isRateLimited) report.current?.(reason);
        const result: LookedUp =
          reason instanceof ApiError && reason.status === 404
            ? { state: "missing" }
            : { state: "failed", detail: reason instanceof ApiError ? reason.detail : String(reason) };
        setLooked({ taskId, result });
      },
    );
  }, []);

  return { looked, lookUp };
}
