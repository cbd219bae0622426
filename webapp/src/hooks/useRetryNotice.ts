/** When the API said "too many requests": the moment a retry will succeed, counted down. */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ApiError } from "../api/client";

export interface RetryNotice {
  /** Epoch milliseconds when requests are accepted again. */
  until: number;
  detail: string;
}

export interface UseRetryNotice {
  notice: RetryNotice | null;
  secondsLeft: number;
  report: (error: ApiError) => void;
  dismiss: () => void;
  /** When the API accepts requests again (epoch ms), even after the notice was dismissed; 0 if never refused. */
  acceptsAt: () => number;
}

export function useRetryNotice(now: () => number = Date.now): UseRetryNotice {
  const [notice, setNotice] = useState<RetryNotice | null>(null);
  const [clock, setClock] = useState(now);
  const latestUntil = useRef(0);

  const report = useCallback(
    (error: ApiError): void => {
      const until = now() + (error.retryAfter ?? 60) * 1000;
      latestUntil.current = Math.max(latestUntil.current, until);
      setClock(now());
      setNotice((current) => (current !== null && current.until > until ? current : { until, detail: error.detail }));
    },
    [now],
  );
  const dismiss = useCallback(() => setNotice(null), []);
  const acceptsAt = useCallback(() => latestUntil.current, []);

  useEffect(() => {
    if (notice === null) return;
    const timer = setInterval(() => {
      const current = now();
      setClock(current);
      if (current >= notice.until) setNotice(null);
    }, 1_000);
    return () => clearInterval(timer);
  }, [notice, now]);

  const secondsLeft = notice === null ? 0 : Math.max(0, Math.ceil((notice.until - clock) / 1000));
  return { notice, secondsLeft, report, dismiss, acceptsAt };
}
