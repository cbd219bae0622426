"""The task record clients see and the options a submission may carry.

Both are immutable, so actors can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, SerializeAsAny, WithJsonSchema

from taskmanager.jobs import JSONValue


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

#: A task type's name; which names exist depends on ``TASKMANAGER_TASKS``.
type TaskType = str


class ParametersObject(BaseModel):
    """A task's parameters read back from JSON: the object, with no model of its type.

    A client, or a replica that reads a record, need not know every task type; the
    worker that runs the task validates them as its type's model. Fields read as
    attributes (``parameters.numbers``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)


def _parameters(value: object) -> BaseModel:
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, dict):
        return ParametersObject.model_validate(value)
    raise ValueError("parameters must be an object")


#: A task's parameters: the validated instance of its type's model, sent as the object
#: the client submitted (each type's request schema documents its fields).
type Parameters = Annotated[
    BaseModel,
    PlainValidator(_parameters),
    SerializeAsAny(),
    WithJsonSchema(
        {
            "type": "object",
            "description": "The parameters, as the request schema of the task type says",
            "additionalProperties": True,
        }
    ),
]

#: Error types after which an attempt is retried when ``max_retries`` allows, whatever
#: the task type's ``retry_on`` says.
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
    schedule: Annotated[str | None, Field(description="The schedule that made it, if one did")] = (
        None
    )
    depends_on: Annotated[
        tuple[UUID, ...], Field(description="The tasks that must complete before it starts")
    ] = ()
    waiting_for: Annotated[
        tuple[UUID, ...], Field(description="Those of `depends_on` not completed yet")
    ] = ()
