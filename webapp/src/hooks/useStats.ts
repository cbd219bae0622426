/**
 * `GET /stats`: on mount, every few seconds, and soon after the event stream says a task
 * finished. It is an aggregate the events do not carry, and it is not rate limited.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, getStats } from "../api/client";
import type { Stats } from "../api/types";

export interface UseStats {
  stats: Stats | null;
  error: ApiError | null;
  /** Asks for fresh stats; calls closer together than `minGapMs` are merged into one. */
  refresh: () => void;
}

export function useStats(intervalMs: number = 5_000, minGapMs: number = 1_000): UseStats {
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const refreshRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let stopped = false;
    let inFlight = false;
    let again = false;
    let lastStart = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const schedule = (delay: number): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(fetchNow, delay);
    };
    function fetchNow(): void {
      timer = null;
      inFlight = true;
      lastStart = Date.now();
      getStats()
        .then((next) => {
          if (stopped) return;
          setStats(next);
          setError(null);
        })
        .catch((reason: unknown) => {
          if (!stopped) setError(reason instanceof ApiError ? reason : new ApiError(0, String(reason), null));
        })
        .finally(() => {
          inFlight = false;
          if (stopped) return;
          // One request at a time: a slow server never gets a pile-up.
          schedule(again ? Math.max(0, lastStart + minGapMs - Date.now()) : intervalMs);
          again = false;
        });
    }
    refreshRef.current = () => {
      if (stopped) return;
      if (inFlight) {
        again = true;
        return;
      }
      schedule(Math.max(0, lastStart + minGapMs - Date.now()));
    };
    fetchNow();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    };
  }, [intervalMs, minGapMs]);

  const refresh = useCallback(() => refreshRef.current(), []);
  return { stats, error, refresh };
}
