import { useEffect, useState } from "react";
import { ApiError, getMetrics } from "../api/client";

/**
 * How the header offers the metrics: the plain link while no key is needed; with a key, a
 * button that reads them with it, shown only once the server has let this key read them
 * (a client key gets 403: offering it a button it may not use would only lead to a refusal).
 * `GET /metrics` does not count against the rate limit, so asking once per key is free.
 */
export function useMetricsOffer(keyHeld: boolean): "link" | "button" | "none" {
  const [allowed, setAllowed] = useState<boolean | null>(null);
  useEffect(() => {
    if (!keyHeld) return;
    let stopped = false;
    getMetrics().then(
      () => {
        if (!stopped) setAllowed(true);
      },
      (reason: unknown) => {
        // Anything but a refusal (the service busy, a network error) still offers the
        // button, whose panel then says what went wrong.
        if (!stopped) setAllowed(!(reason instanceof ApiError && reason.status === 403));
      },
    );
    return () => {
      stopped = true;
    };
  }, [keyHeld]);
  if (!keyHeld) return "link";
  return allowed === true ? "button" : "none";
}
