/** The submit forms, built from `GET /openapi.json` once per page load (it is not rate limited). */
import { useEffect, useState } from "react";
import { ApiError, getOpenApi } from "../api/client";
import { taskFormsFromOpenApi, type TaskForm } from "../state/taskForms";

export interface UseTaskForms {
  /** One form per task type; null until the API's description has been read. */
  forms: readonly TaskForm[] | null;
  /** Why the last attempt failed, while none has succeeded. */
  problem: string | null;
  /** When the description is asked for again after a failure (epoch ms). */
  retryAt: number | null;
}

/** Wait before asking again for a description that could not be read. */
const RETRY_MS = 5_000;

export function useTaskForms(load: (init?: RequestInit) => Promise<unknown> = getOpenApi): UseTaskForms {
  const [state, setState] = useState<UseTaskForms>({ forms: null, problem: null, retryAt: null });

  useEffect(() => {
    // React's StrictMode mounts twice in development: the first mount's request is aborted.
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const attempt = (): void => {
      timer = null;
      load({ signal: abort.signal })
        .then((document) => {
          if (!abort.signal.aborted) setState({ forms: taskFormsFromOpenApi(document), problem: null, retryAt: null });
        })
        .catch((reason: unknown) => {
          if (abort.signal.aborted) return;
          const problem = reason instanceof ApiError ? reason.detail : reason instanceof Error ? reason.message : String(reason);
          const retryAfter = reason instanceof ApiError ? reason.retryAfter : null;
          const delay = retryAfter !== null ? Math.max(retryAfter * 1000, 1_000) : RETRY_MS;
          setState((current) => ({ forms: current.forms, problem, retryAt: Date.now() + delay }));
          timer = setTimeout(attempt, delay);
        });
    };
    attempt();
    return () => {
      abort.abort();
      if (timer !== null) clearTimeout(timer);
    };
  }, [load]);

  return state;
}
