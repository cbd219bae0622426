"""Request and response shapes: what clients send and see, and what the OpenAPI documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from taskmanager.actors.model import ComputeSum, GenerateReport, SimulateError, Task, TaskStatus

_FORBID_EXTRA = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class ComputeSumRequest:
    """Sum the numbers (5 s of simulated work)."""

    __pydantic_config__ = _FORBID_EXTRA

    task_type: Literal["compute_sum"]
    parameters: ComputeSum


@dataclass(frozen=True, slots=True)
class GenerateReportRequest:
    """Write a report, 5 s per section (30 s at most)."""

    __pydantic_config__ = _FORBID_EXTRA

    task_type: Literal["generate_report"]
    parameters: GenerateReport


@dataclass(frozen=True, slots=True)
class SimulateErrorRequest:
    """Run for 5 s, then fail."""

    __pydantic_config__ = _FORBID_EXTRA

    task_type: Literal["simulate_error"]
    parameters: SimulateError = SimulateError()  # noqa: RUF009 - frozen, so sharing it is safe


type TaskRequest = Annotated[
    ComputeSumRequest | GenerateReportRequest | SimulateErrorRequest,
    Field(discriminator="task_type"),
]

TASK_REQUEST: Final = TypeAdapter[TaskRequest](TaskRequest)
TASK: Final = TypeAdapter(Task)
TASKS: Final = TypeAdapter(list[Task])
TASK_TYPES: Final = ("compute_sum", "generate_report", "simulate_error")


class Submitted(BaseModel):
    """The reply to a submission."""

    task_id: UUID
    status: Literal[TaskStatus.QUEUED] = TaskStatus.QUEUED


class ErrorBody(BaseModel):
    """Every error answer: ``detail`` says what is wrong."""

    detail: str


class ConflictBody(BaseModel):
    """A cancel that came too late: the task had already finished."""

    detail: str
    task: Task


class Health(BaseModel):
    """Whether the actors are alive."""

    status: Literal["ok", "unhealthy"]
    detail: str = ""


def describe_validation_error(error: ValidationError) -> str:
    """One readable line that names each wrong field and says why."""
    # A union reports one error per member at the same place; the last member's is kept.
    by_field = dict(_describe(item) for item in error.errors(include_url=False))
    return "; ".join(f"{field}: {message}" for field, message in list(by_field.items())[:5])


def _describe(item: Any) -> tuple[str, str]:  # noqa: ANN401 - pydantic's ErrorDetails
    loc: tuple[int | str, ...] = item["loc"]
    kind: str = item["type"]
    expected = ", ".join(TASK_TYPES)
    if kind == "union_tag_not_found":
        return "task_type", f"field required, one of {expected}"
    if kind == "union_tag_invalid":
        return "task_type", f"unknown task type {item['ctx']['tag']!r}, expected one of {expected}"
    if loc and loc[0] in TASK_TYPES:
        loc = loc[1:]  # the discriminator's tag; the client already knows the task_type
    # Union members add their own names to the location ("int", "float"): drop them.
    path = ".".join(str(part) for part in loc if part not in _UNION_MEMBER_NAMES)
    message = str(item["msg"]).replace("Tuple should", "List should")
    if kind == "finite_number":
        message = "Input should be a finite number (not NaN or infinity)"
    return path or "body", message


_UNION_MEMBER_NAMES = frozenset({"int", "float", "constrained-int", "constrained-float"})
