/** `GET /stats` (not rate limited), kept live between answers by the status changes seen since. */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, getStats } from "../api/client";
import type { Stats } from "../api/types";
import { addChanges, liveFigures, type ChangesSince, type LiveFigures, type StatusChange } from "../state/statusTally";

export interface UseStats {
  stats: Stats | null;
  /** Counts per status and queue depth now: the last answer moved by the changes since. Null until the first answer. */
  figures: LiveFigures | null;
  error: ApiError | null;
  /** Asks for fresh stats; calls closer together than `minGapMs` are merged into one. */
  refresh: () => void;
  /** Moves the figures by status changes seen on the event stream, and asks for fresh stats soon. */
  noteChanges: (changes: readonly StatusChange[]) => void;
}

/** The last answer and the changes seen after it arrived; replaced together, so they never cross. */
interface Tally {
  stats: Stats | null;
  since: ChangesSince;
}

const NO_CHANGES: ChangesSince = new Map();

export function useStats(intervalMs: number = 5_000, minGapMs: number = 1_000): UseStats {
  const [tally, setTally] = useState<Tally>({ stats: null, since: NO_CHANGES });
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
          setTally({ stats: next, since: NO_CHANGES });
          setError(null);
        })
        .catch((reason: unknown) => {
          if (stopped) return;
          const failure = reason instanceof ApiError ? reason : new ApiError(0, String(reason), null);
          setError(failure);
          // A 401 waits for a key: the prompt takes over, and a new key loads a new monitor.
          if (failure.status === 401) stopped = true;
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
  const noteChanges = useCallback((changes: readonly StatusChange[]) => {
    if (changes.length === 0) return;
    setTally((current) => (current.stats === null ? current : { ...current, since: addChanges(current.since, changes) }));
    // Events can cross the last answer on the wire (counted twice or not at all): the next
    // answer, at most a second or so away, sets the figures straight.
    refreshRef.current();
  }, []);

  const figures = useMemo(() => (tally.stats === null ? null : liveFigures(tally.stats, tally.since)), [tally]);
  return { stats: tally.stats, figures, error, refresh, noteChanges };
}
