import type { Task } from "../../api/types";
import { shortId } from "../../format";
import { ShowProgress } from "../Tasks/ShowProgress";

export interface ShowWorkersProps {
  /** How many workers the server runs. */
  total: number;
  /** The running tasks the monitor holds, one per busy worker. */
  running: readonly Task[];
  /**
   * How many tasks are processing, counted by the server: more than `running` when some
   * started before the newest tasks the monitor loaded.
   */
  processing?: number | null;
  /** Tasks waiting for a worker, or null while not known yet. */
  queueDepth: number | null;
}

/** One slot per worker, busy (with its task when the monitor holds it) or idle, and the queue behind them. */
export function ShowWorkers({ total, running, processing = null, queueDepth }: ShowWorkersProps) {
  const size = Math.max(total, running.length);
  const busy = Math.min(size, Math.max(running.length, processing ?? 0));
  const slots = Array.from({ length: size }, (_, index): Task | "busy" | undefined =>
    index < running.length ? running[index] : index < busy ? "busy" : undefined,
  );
  return (
    <section className="panel" aria-label="Workers">
      <header className="panel__header">
        <h2>Workers</h2>
        <span className="muted">{busy} busy · {slots.length - busy} idle</span>
      </header>
      <ol className="slots">
        {slots.map((task, index) => (
          <li key={index} className={task === undefined ? "slot slot--idle" : "slot slot--busy"}
            aria-label={task === undefined ? `worker ${index + 1} idle` : `worker ${index + 1} busy`}>
            <span className="slot__name">#{index + 1}</span>
            {task === undefined ? (
              <span className="slot__state">idle</span>
            ) : task === "busy" ? (
              <span className="slot__state" title="running a task older than those loaded">busy</span>
            ) : (
              <>
                <span className="slot__state mono" title={task.task_id}>{shortId(task.task_id)}</span>
                <ShowProgress progress={task.progress} status={task.status} />
              </>
            )}
          </li>
        ))}
      </ol>
      <p className="queue">
        Queue depth <strong data-testid="queue-depth">{queueDepth ?? "–"}</strong>
      </p>
    </section>
  );
}
