"""Request and response shapes: what clients send and see, and what the OpenAPI documents.

The submission models are built from ``taskmanager.actors.tasktypes``: one per task type,
each with the same job options, so a new task type needs no change here.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Protocol, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    create_model,
)

from taskmanager.actors.model import JobOptions, Task
from taskmanager.actors.tasktypes import (
    NO_CONTROL_CHARACTERS,
    PARAMETERS,
    TASK_TYPES,
    TaskParameters,
    integral,
)

_FORBID_EXTRA: Final = ConfigDict(extra="forbid")

# A number of seconds as JSON writes it: never a string, a bool, NaN or infinity.
Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False)]

#: The job options every submission may carry, as (annotation, field) for create_model.
_OPTIONS: Final[dict[str, Any]] = {
    "priority": (
        Annotated[StrictInt, Field(ge=0, le=9), BeforeValidator(integral)],
        Field(0, description="0 to 9; higher runs first, equal priorities in submission order"),
    ),
    "delay": (
        Annotated[Seconds, Field(ge=0, le=86_400)],
        Field(0, description="Seconds to wait before the task may start (0 to 86,400)"),
    ),
    "timeout": (
        Annotated[Seconds, Field(ge=0.01, le=3_600)] | None,
        Field(None, description="Seconds an attempt may run before it fails as `timeout`"),
    ),
    "max_retries": (
        Annotated[StrictInt, Field(ge=0, le=10), BeforeValidator(integral)],
        Field(0, description="Attempts after a `timeout`, `crash` or `worker_lost` failure"),
    ),
}


class Submission(Protocol):
    """What every submission model has: the task type, its parameters and the options."""

    task_type: str
    parameters: TaskParameters
    priority: int
    delay: float
    timeout: float | None
    max_retries: int


def options_of(submission: Submission) -> JobOptions:
    """The job options of a submission, as the store takes them."""
    return JobOptions(
        submission.priority, submission.delay, submission.timeout, submission.max_retries
    )


def _submission_model(parameters: type[TaskParameters]) -> type[BaseModel]:
    """``<Type>Request``: ``task_type`` names the type, ``parameters`` are its own."""
    has_defaults = all(
        field.default is not MISSING or field.default_factory is not MISSING
        for field in fields(parameters)  # type: ignore[arg-type]
    )
    return create_model(
        f"{parameters.__name__}Request",
        __config__=_FORBID_EXTRA,
        __doc__=parameters.__doc__,
        task_type=(Literal[parameters.task_type], ...),  # type: ignore[arg-type]
        parameters=(parameters, parameters() if has_defaults else ...),
        **_OPTIONS,
    )


SUBMISSIONS: Final = {cls.task_type: _submission_model(cls) for cls in PARAMETERS}

if TYPE_CHECKING:
    type TaskRequest = Submission
else:
    TaskRequest = Annotated[
        Union[tuple(SUBMISSIONS.values())],  # noqa: UP007 - built from the registry
        Field(discriminator="task_type"),
    ]

TASK_REQUEST: Final = TypeAdapter[TaskRequest](TaskRequest)
TASK: Final = TypeAdapter(Task)
TASKS: Final = TypeAdapter(list[Task])


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
    if kind == "string_pattern_mismatch" and item["ctx"]["pattern"] == NO_CONTROL_CHARACTERS:
        message = "control characters (such as newlines or escape sequences) are not allowed"
    return path or "body", message


_UNION_MEMBER_NAMES = frozenset({"int", "float", "constrained-int", "constrained-float"})
