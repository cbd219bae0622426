import type { ApiError } from "../../api/client";
import { formatTime } from "../../format";

export interface ShowSnapshotProblemProps {
  error: ApiError;
  /** Whether an earlier snapshot is shown: the list is then stale, not missing. */
  loaded: boolean;
  /** When the snapshot is asked for again (epoch ms). */
  retryAt: number | null;
}

function reason(error: ApiError): string {
  return error.isRateLimited ? "too many requests" : error.detail;
}

/**
 * The snapshot failed: say so, and when it is asked for again, so a refused list never
 * reads as a system with no tasks.
 */
export function ShowSnapshotProblem({ error, loaded, retryAt }: ShowSnapshotProblemProps) {
  const again = retryAt === null ? "soon" : `at ${formatTime(new Date(retryAt).toISOString())}`;
  if (!loaded) {
    return (
      <p className="notice notice--warning snapshot-problem" role="status" data-testid="tasks-unavailable">
        The task list could not be loaded ({reason(error)}). It is asked for again {again}; the counts
        above come from the server meanwhile.
      </p>
    );
  }
  return (
    <p className="muted snapshot-problem" role="status" data-testid="tasks-stale">
      The task list could not be refreshed ({reason(error)}): it shows the tasks as they were, with the live
      changes since. It is asked for again {again}.
    </p>
  );
}
