import type { TaskStatus } from "../../api/types";
import { TASK_STATUSES } from "../../api/types";
import type { StatusCounts } from "../../state/taskEvents";

export interface FilterTasksProps {
  counts: StatusCounts;
  selected: TaskStatus | null;
  onSelect: (status: TaskStatus | null) => void;
}

/** One toggle per status, each with its count; "All" clears the filter. */
export function FilterTasks({ counts, selected, onSelect }: FilterTasksProps) {
  const total = TASK_STATUSES.reduce((sum, status) => sum + counts[status], 0);
  return (
    <div className="filters" role="group" aria-label="Filter by status">
      <button type="button" className="filter" aria-pressed={selected === null} onClick={() => onSelect(null)}>
        All <span className="filter__count">{total}</span>
      </button>
      {TASK_STATUSES.map((status) => (
        <button
          key={status}
          type="button"
          className={`filter filter--${status}`}
          aria-pressed={selected === status}
          onClick={() => onSelect(selected === status ? null : status)}
        >
          {status} <span className="filter__count">{counts[status]}</span>
        </button>
      ))}
    </div>
  );
}
