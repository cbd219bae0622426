import { useMemo } from "react";
import type { Task } from "../../api/types";
import { formatAttempts, formatTime, humanize, taskDuration, waitText, waitingText } from "../../format";
import type { LookedUp } from "../../hooks/useTaskLookup";
import type { TaskMap } from "../../state/taskEvents";
import { CancelTask } from "./CancelTask";
import { LinkTasks } from "./LinkTasks";
import { ShowCountdown } from "./ShowCountdown";
import { ShowProgress } from "./ShowProgress";
import { ShowStatus } from "./ShowStatus";
import { ShowWaiting } from "./ShowWaiting";

export interface ShowTaskProps {
  /** The selected task's id, and the task itself while the monitor still has it. */
  taskId: string;
  task: Task | undefined;
  /** What reading a task the monitor does not hold gave, when a link asked for it. */
  lookedUp?: LookedUp | null;
  /** Every task the monitor holds: for the statuses of the linked tasks, and the dependants. */
  tasks: TaskMap;
  now: number;
  onCancel: (taskId: string) => Promise<unknown>;
  onClose: () => void;
  /** Opens another task in this panel (a dependency or a dependant). */
  onSelect: (taskId: string) => void;
}

/** The tasks the monitor holds that depend on `taskId`, oldest first. */
function dependantsOf(tasks: TaskMap, taskId: string): string[] {
  const found: string[] = [];
  for (const task of tasks.values()) if (task.depends_on.includes(taskId)) found.push(task.task_id);
  return found;
}

/** A queued task with an error waits for a retry: the error is its last attempt's. */
function errorHeading(task: Task, now: number): string {
  if (task.status !== "queued") return "Error";
  const wait = waitText(task, now);
  return wait === null ? "Last error" : `Last error, ${wait}`;
}

/** The detail panel: everything about one task, with its parameters, options and outcome. */
/** Why there is no task to show. */
function absence(lookedUp: LookedUp | null): string {
  if (lookedUp?.state === "loading") return "Loading this task…";
  if (lookedUp?.state === "failed") return `This task could not be read: ${lookedUp.detail}`;
  return "This task is gone: it was cleaned up after it finished.";
}

export function ShowTask({ taskId, task, lookedUp = null, tasks, now, onCancel, onClose, onSelect }: ShowTaskProps) {
  const dependants = useMemo(() => dependantsOf(tasks, taskId), [tasks, taskId]);
  return (
    <section className="panel detail" aria-label="Task details">
      <header className="panel__header">
        <h2>Task details</h2>
        <button type="button" className="button button--ghost" onClick={onClose} aria-label="Close details">
          ✕
        </button>
      </header>
      <p className="mono detail__id">{taskId}</p>
      {task === undefined ? (
        <p className="muted" role="status">{absence(lookedUp)}</p>
      ) : (
        <>
          <dl className="facts">
            <dt>Type</dt>
            <dd>{humanize(task.task_type)}</dd>
            <dt>Status</dt>
            <dd><ShowStatus status={task.status} /> <ShowWaiting task={task} /></dd>
            <dt>Progress</dt>
            <dd><ShowProgress progress={task.progress} status={task.status} /></dd>
            <dt>Created</dt>
            <dd className="mono">{formatTime(task.created_at)}</dd>
            <dt>Started</dt>
            <dd className="mono">{formatTime(task.started_at)}</dd>
            <dt>Finished</dt>
            <dd className="mono">{formatTime(task.finished_at)}</dd>
            <dt>Duration</dt>
            <dd className="mono">{taskDuration(task, now)}</dd>
            <dt>Priority</dt>
            <dd className="mono" data-testid="task-priority">{task.priority}</dd>
            <dt>Attempts</dt>
            <dd className="mono" data-testid="task-attempts">{formatAttempts(task)}</dd>
            <dt>Max retries</dt>
            <dd className="mono">{task.max_retries}</dd>
            <dt>Timeout</dt>
            <dd className="mono">{task.timeout === null ? "none" : `${task.timeout} s`}</dd>
            <dt>Run at</dt>
            <dd className="mono" data-testid="task-run-at">
              {formatTime(task.run_at)} <ShowCountdown task={task} now={now} />
            </dd>
          </dl>
          {task.depends_on.length > 0 && (
            <LinkTasks label="Depends on" taskIds={task.depends_on} tasks={tasks} onSelect={onSelect} />
          )}
          {waitingText(task) !== null && (
            <LinkTasks label="Waiting for" taskIds={task.waiting_for} tasks={tasks} onSelect={onSelect} />
          )}
          {dependants.length > 0 && (
            <LinkTasks label="Dependants" taskIds={dependants} tasks={tasks} onSelect={onSelect} />
          )}
          <h3>Parameters</h3>
          <pre className="json">{JSON.stringify(task.parameters, null, 2)}</pre>
          {task.status === "completed" && (
            <>
              <h3>Result</h3>
              <pre className="json" data-testid="task-result">{JSON.stringify(task.result ?? null, null, 2)}</pre>
            </>
          )}
          {task.error != null && (
            <>
              <h3>{errorHeading(task, now)}</h3>
              <p className="error-box" data-testid="task-error">
                <strong>{task.error.type}</strong>: {task.error.message}
              </p>
            </>
          )}
          <CancelTask task={task} onCancel={onCancel} />
        </>
      )}
    </section>
  );
}
