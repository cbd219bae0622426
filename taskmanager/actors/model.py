"""The task record and the parameters of each task type; immutable, so actors can share them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema

# Validated as this union, documented as "any JSON value": openapi-python-client cannot
# parse a recursive schema, and drops every schema that refers to one.
type JSONValue = Annotated[
    str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None,
    WithJsonSchema({"description": "Any JSON value"}),
]


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

_FORBID_EXTRA = ConfigDict(extra="forbid")

# Integers stay exact; anything else must be a finite float. Bounding the integers keeps
# a single number from turning the sum into an arbitrarily large computation.
type Number = (
    Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
)


def _integral(value: object) -> object:
    """Read 7.0 as 7: JSON (and JSON Schema's ``integer``) does not tell them apart."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True, slots=True)
class ComputeSum:
    """Add up 1 to 10,000 finite numbers."""

    __pydantic_config__ = _FORBID_EXTRA

    numbers: Annotated[tuple[Number, ...], Field(min_length=1, max_length=10_000)]


@dataclass(frozen=True, slots=True)
class GenerateReport:
    """Write a report of 1 to 10 sections under a title."""

    __pydantic_config__ = _FORBID_EXTRA

    title: Annotated[str, Field(min_length=1, max_length=200)]
    # An integer, also when a client's JSON encoder writes 7.0; never a string or a bool.
    sections: Annotated[StrictInt, Field(ge=1, le=10), BeforeValidator(_integral)] = 3


type SimulatedError = Literal["value_error", "timeout", "crash"]


@dataclass(frozen=True, slots=True)
class SimulateError:
    """Run, then fail the way ``error`` says."""

    __pydantic_config__ = _FORBID_EXTRA

    error: SimulatedError = "value_error"


type Parameters = ComputeSum | GenerateReport | SimulateError
type TaskType = Literal["compute_sum", "generate_report", "simulate_error"]


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task failed: a machine-readable ``type`` and a human ``message``."""

    type: str
    message: str


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
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: float = 0.0
    result: JSONValue = None
    error: TaskError | None = None
