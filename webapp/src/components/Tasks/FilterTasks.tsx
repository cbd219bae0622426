import type { StatusCounts, TaskStatus } from "../../api/types";
import { TASK_STATUSES } from "../../api/types";

export interface FilterTasksProps {
  /** Tasks kept per status, or null while they are not known yet. */
  counts: StatusCounts | null;
  selected: TaskStatus | null;
  onSelect: (status: TaskStatus | null) => void;
}

/** Shown instead of a count not known yet: an unknown count must not read as zero. */
const UNKNOWN = "–";

/** One toggle per status, each with its count; "All" clears the filter. */
export function FilterTasks({ counts, selected, onSelect }: FilterTasksProps) {
  const total = counts === null ? UNKNOWN : TASK_STATUSES.reduce((sum, status) => sum + counts[status], 0);
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
          {status} <span className="filter__count">{counts === null ? UNKNOWN : counts[status]}</span>
        </button>
      ))}
    </div>
  );
}
