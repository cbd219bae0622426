import { useEffect, useRef, useState, type ReactNode, type UIEvent } from "react";
import type { Task } from "../../api/types";
import { formatAttempts, formatTime, humanize, shortId, taskDuration, waitText, waitingText } from "../../format";
import { CancelTask } from "./CancelTask";
import { ShowCountdown } from "./ShowCountdown";
import { ShowProgress } from "./ShowProgress";
import { ShowStatus } from "./ShowStatus";
import { ShowWaiting } from "./ShowWaiting";

export interface ListTasksProps {
  /** The rows, in the order to show them. */
  tasks: readonly Task[];
  selectedId: string | null;
  onSelect: (taskId: string) => void;
  onCancel: (taskId: string) => Promise<unknown>;
  /** Epoch ms used for the running tasks' durations and the waiting tasks' countdowns. */
  now: number;
  /** What to say when there are no rows. */
  emptyText?: ReactNode;
  rowHeight?: number;
  /** Rows drawn beyond the visible ones, so fast scrolling shows no gaps. */
  overscan?: number;
}

/** Used until the scroll box has been measured (and in tests, where nothing has a size). */
const FALLBACK_VIEWPORT_PX = 640;

/**
 * The task table. Only the rows in view (plus a few) are in the DOM, with spacer rows
 * standing in for the rest, so ten thousand tasks scroll as smoothly as ten.
 */
export function ListTasks({
  tasks,
  selectedId,
  onSelect,
  onCancel,
  now,
  emptyText = "No tasks here yet. Submit one with the form.",
  rowHeight = 40,
  overscan = 8,
}: ListTasksProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(FALLBACK_VIEWPORT_PX);

  useEffect(() => {
    const element = scroller.current;
    if (element === null || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (element.clientHeight > 0) setViewport(element.clientHeight);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(tasks.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  const rows = tasks.slice(first, last);

  return (
    <div className="table-scroll" ref={scroller} onScroll={(event: UIEvent<HTMLDivElement>) => setScrollTop(event.currentTarget.scrollTop)}>
      <table className="tasks" aria-label="Tasks" aria-rowcount={tasks.length + 1}>
        <thead>
          <tr>
            <th scope="col" className="col-id">ID</th>
            <th scope="col" className="col-type">Type</th>
            <th scope="col" className="col-status">Status</th>
            <th scope="col" className="col-priority num" title="Priority: higher runs first">
              <abbr title="Priority">Pri</abbr>
            </th>
            <th scope="col" className="col-attempts num" title="Attempts started, of one plus the retries allowed">
              Attempts
            </th>
            <th scope="col" className="col-progress">Progress</th>
            <th scope="col" className="col-time col-created">Created</th>
            <th scope="col" className="col-time col-started">Started</th>
            <th scope="col" className="col-time col-finished">Finished</th>
            <th scope="col" className="col-duration num">Duration</th>
            <th scope="col" className="col-actions"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {first > 0 && <tr aria-hidden="true" style={{ height: first * rowHeight }} />}
          {rows.map((task, index) => (
            <tr
              key={task.task_id}
              data-task-id={task.task_id}
              data-status={task.status}
              aria-rowindex={first + index + 2}
              aria-selected={task.task_id === selectedId}
              className={task.task_id === selectedId ? "is-selected" : undefined}
              style={{ height: rowHeight }}
              tabIndex={0}
              onClick={() => onSelect(task.task_id)}
              onKeyDown={(event) => {
                if (event.target === event.currentTarget && (event.key === "Enter" || event.key === " ")) {
                  event.preventDefault();
                  onSelect(task.task_id);
                }
              }}
            >
              <td className="mono" title={task.task_id}>{shortId(task.task_id)}</td>
              <td>{humanize(task.task_type)}</td>
              <td><ShowStatus status={task.status} /></td>
              <td className="mono num" data-testid="priority">{task.priority}</td>
              <td className="mono num" data-testid="attempts">{formatAttempts(task)}</td>
              <td className="col-progress">
                {/* A task waiting for other tasks, its delay or a retry says so, instead of 0 %. */}
                {waitingText(task) !== null ? (
                  <ShowWaiting task={task} />
                ) : waitText(task, now) === null ? (
                  <ShowProgress progress={task.progress} status={task.status} />
                ) : (
                  <ShowCountdown task={task} now={now} />
                )}
              </td>
              <td className="mono col-created">{formatTime(task.created_at)}</td>
              <td className="mono col-started">{formatTime(task.started_at)}</td>
              <td className="mono col-finished">{formatTime(task.finished_at)}</td>
              <td className="mono num">{taskDuration(task, now)}</td>
              <td className="actions"><CancelTask task={task} onCancel={onCancel} compact /></td>
            </tr>
          ))}
          {last < tasks.length && <tr aria-hidden="true" style={{ height: (tasks.length - last) * rowHeight }} />}
        </tbody>
      </table>
      {tasks.length === 0 && emptyText !== null && <p className="empty">{emptyText}</p>}
    </div>
  );
}
