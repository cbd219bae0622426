/**
 * `GET /schedules`, read on load, after each change made here, and again once a shown
 * next run has passed (at most once a minute: each read counts against the rate limit).
 */
import { useCallback, useEffect, useState } from "react";
import { ApiError, deleteSchedule, listSchedules } from "../api/client";
import type { Schedule } from "../api/types";

export interface UseSchedules {
  schedules: Schedule[] | null;
  error: string | null;
  reload: () => void;
  remove: (name: string) => Promise<void>;
}

/** Milliseconds between reads that only refresh the next runs. */
const REFRESH_GAP_MS = 60_000;

export function useSchedules(list: typeof listSchedules = listSchedules): UseSchedules {
  const [schedules, setSchedules] = useState<Schedule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((current) => current + 1), []);

  useEffect(() => {
    let stopped = false;
    list()
      .then((found) => {
        if (stopped) return;
        setSchedules(found);
        setError(null);
      })
      .catch((reason: unknown) => {
        if (!stopped) setError(reason instanceof ApiError ? reason.detail : String(reason));
      });
    return () => {
      stopped = true;
    };
  }, [list, version]);

  useEffect(() => {
    if (schedules === null || schedules.length === 0) return;
    const soonest = Math.min(...schedules.map((schedule) => Date.parse(schedule.next_run_at)));
    const wait = Math.max(soonest + 1_000 - Date.now(), REFRESH_GAP_MS);
    const timer = setTimeout(reload, wait);
    return () => clearTimeout(timer);
  }, [schedules, reload]);

  const remove = useCallback(
    async (name: string) => {
      await deleteSchedule(name);
      setSchedules((current) => current?.filter((schedule) => schedule.name !== name) ?? null);
    },
    [],
  );
  return { schedules, error, reload, remove };
}
