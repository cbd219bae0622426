"""The task record clients see and the options a submission may carry.

Both are immutable, so actors can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import from_json, to_json

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


class ParametersObject:
    """A task's parameters: the JSON object the client sent, as compact immutable bytes.

    Records keep them as JSON rather than as the task type's model: a model instance
    carries a dict and a set of its own, several times the bytes of its JSON, and a
    record must not change when a job changes the instance it was given. The worker that
    runs the task validates them as its type's model; a client, or a replica, need not
    know every task type. Fields read as attributes (``parameters.numbers``, parsed from
    the JSON at each access, so a list read is a fresh one).
    """

    __slots__ = ("json",)

    json: bytes

    def __init__(self, json: bytes) -> None:
        object.__setattr__(self, "json", json)

    @classmethod
    def of(cls, model: BaseModel) -> ParametersObject:
        """A validated model's parameters as a client writes them.

        By alias and without computed fields, so that the JSON validates as the model
        again when the task starts.
        """
        serializer = type(model).__pydantic_serializer__
        return cls(
            serializer.to_json(model, by_alias=True, round_trip=True, exclude_computed_fields=True)
        )

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a new dict."""
        parsed: dict[str, Any] = from_json(self.json)
        return parsed

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - any JSON value
        if not name.startswith("_"):
            parsed = from_json(self.json)
            if name in parsed:
                return parsed[name]
        raise AttributeError(f"the parameters have no field {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("parameters are immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ParametersObject):
            return self.json == other.json
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.json)

    def __reduce__(self) -> tuple[type[ParametersObject], tuple[bytes]]:
        # Copies and pickles are rebuilt through __init__: __setattr__ refuses.
        return (ParametersObject, (self.json,))

    def __repr__(self) -> str:
        return f"ParametersObject({self.to_dict()!r})"


def _parameters(value: object) -> ParametersObject:
    if isinstance(value, ParametersObject):
        return value
    if isinstance(value, BaseModel):
        return ParametersObject.of(value)
    if isinstance(value, dict):
        return ParametersObject(to_json(value))
    raise ValueError("parameters must be an object")


def _object(parameters: ParametersObject) -> Any:  # noqa: ANN401 - a JSON object
    return from_json(parameters.json)


#: A task's parameters: kept as JSON, sent as the object the client submitted (each type's
#: request schema documents its fields).
type Parameters = Annotated[
    ParametersObject,
    PlainValidator(_parameters),
    PlainSerializer(_object),
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
