"""The task record clients see and the options a submission may carry.

Both are immutable, so actors can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Final
from uuid import UUID

from pydantic import ConfigDict, Field

from taskmanager.actors.tasktypes import PARAMETERS, JSONValue, Parameters


class TaskStatus(StrEnum):
    """Where a task is in its life; the last three never change again."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the task has finished for good."""
        return self in TERMINAL


TERMINAL: Final = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})

if TYPE_CHECKING:
    TaskType = str
else:
    # One member per task type in tasktypes.PARAMETERS, so the schema lists them.
    TaskType = StrEnum("TaskType", {cls.task_type.upper(): cls.task_type for cls in PARAMETERS})

#: Error types after which an attempt is retried when ``max_retries`` allows.
RETRYABLE: Final = frozenset({"timeout", "crash", "worker_lost"})


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed: a machine-readable ``type`` and a human ``message``."""

    type: str
    message: str

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed (``value_error`` never does)."""
        return self.type in RETRYABLE


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How a task is scheduled: its priority, start time, attempt timeout and retries."""

    priority: int = 0
    delay: float = 0.0
    timeout: float | None = None
    max_retries: int = 0


DEFAULT_OPTIONS: Final = JobOptions()


@dataclass(frozen=True, slots=True)
class Task:
    """One task as clients see it. Records are replaced, never mutated."""

    # Every field is always sent (null until it happens), so the schema says so.
    __pydantic_config__ = ConfigDict(json_schema_serialization_defaults_required=True)

    task_id: UUID
    task_type: TaskType
    status: TaskStatus
    parameters: Parameters
    created_at: datetime
    run_at: Annotated[datetime, Field(description="The earliest moment the next attempt starts")]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float = 0.0
    result: JSONValue = None
    error: TaskError | None = None
    priority: Annotated[int, Field(description="0 to 9; higher runs first")] = 0
    timeout: Annotated[float | None, Field(description="Seconds an attempt may run")] = None
    max_retries: int = 0
    attempts: Annotated[int, Field(description="Attempts started so far")] = 0
