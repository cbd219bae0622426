import { useId } from "react";
import { humanize, shortId } from "../../format";
import type { TaskMap } from "../../state/taskEvents";
import { ShowStatus } from "./ShowStatus";

export interface LinkTasksProps {
  /** The list's heading, which names it too. */
  label: string;
  taskIds: readonly string[];
  /** The tasks the monitor holds: each linked one shows its type and status when known. */
  tasks: TaskMap;
  onSelect: (taskId: string) => void;
}

/** Tasks related to the one shown (its dependencies, its dependants), each a link that opens it. */
export function LinkTasks({ label, taskIds, tasks, onSelect }: LinkTasksProps) {
  const headingId = useId();
  return (
    <>
      <h3 id={headingId}>{label}</h3>
      <ul className="task-links" aria-labelledby={headingId}>
        {taskIds.map((taskId) => {
          const task = tasks.get(taskId);
          return (
            <li key={taskId}>
              <button type="button" className="button button--link mono" title={taskId}
                aria-label={`Open task ${taskId}`} onClick={() => onSelect(taskId)}>
                {shortId(taskId)}
              </button>
              {/* Older tasks than the snapshot's, or cleaned up: the link still opens the id. */}
              {task === undefined ? (
                <span className="muted">not loaded</span>
              ) : (
                <>
                  <span>{humanize(task.task_type)}</span>
                  <ShowStatus status={task.status} />
                </>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}
