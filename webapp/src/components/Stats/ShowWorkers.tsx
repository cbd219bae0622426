import type { Task } from "../../api/types";
import { shortId } from "../../format";
import { ShowProgress } from "../Tasks/ShowProgress";

export interface ShowWorkersProps {
  /** How many workers the server runs. */
  total: number;
  /** The tasks running now, one per busy worker. */
  running: readonly Task[];
  queueDepth: number;
}

/** One slot per worker, busy (with its task) or idle, and the queue behind them. */
export function ShowWorkers({ total, running, queueDepth }: ShowWorkersProps) {
  const slots = Array.from({ length: Math.max(total, running.length) }, (_, index) => running[index]);
  const busy = Math.min(running.length, slots.length);
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
        Queue depth <strong data-testid="queue-depth">{queueDepth}</strong>
      </p>
    </section>
  );
}
