"""Request and response shapes: what clients send and see, and what the OpenAPI documents.

The submission models are built from the task types the service was started with: one
per task type, each with the same job options, so a new task type needs no change here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, Protocol, Union
from uuid import UUID

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
from taskmanager.demo import NO_CONTROL_CHARACTERS, integral
from taskmanager.jobs import TaskTypes, TaskTypeSpec

_FORBID_EXTRA: Final = ConfigDict(extra="forbid")
#: The most tasks one task may wait for.
MAX_DEPENDENCIES: Final = 100

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
    parameters: BaseModel
    priority: int
    delay: float
    timeout: float | None
    max_retries: int


class TaskSubmission(Submission, Protocol):
    """The body of ``POST /tasks``: a submission that may wait for other tasks."""

    depends_on: list[UUID]


#: What only a task submitted by a client (not by a schedule) may carry.
_DEPENDENCIES: Final[dict[str, Any]] = {
    "depends_on": (
        Annotated[list[UUID], Field(max_length=MAX_DEPENDENCIES)],
        Field(
            default_factory=list,
            description=(
                "Tasks (at most 100) that must complete before this one starts; "
                "if one fails or is cancelled, this one is cancelled as `dependency_failed`"
            ),
        ),
    ),
}


def options_of(submission: Submission) -> JobOptions:
    """The job options of a submission, as the store takes them."""
    return JobOptions(
        submission.priority, submission.delay, submission.timeout, submission.max_retries
    )


def _model_name(spec: TaskTypeSpec) -> str:
    """``compute_sum`` -> ``ComputeSumSubmission``."""
    return "".join(part.capitalize() for part in spec.name.split("_")) + "Submission"


def _known_fields(model: type[BaseModel]) -> Callable[[object], object]:
    """A check that refuses parameters the model does not have.

    Pydantic ignores unknown fields unless a model says otherwise; a client that
    misspells a parameter should hear about it, unless the model chose to accept them.
    """
    names = frozenset(
        name
        for field_name, info in model.model_fields.items()
        for name in (field_name, info.alias)
        if name is not None
    )

    def check(value: object) -> object:
        if isinstance(value, dict) and not names.issuperset(value):
            unknown = next(key for key in value if key not in names)
            raise ValueError(f"unknown parameter {unknown!r}")
        return value

    return check


def _submission_model(spec: TaskTypeSpec) -> type[BaseModel]:
    """``<Type>Submission``: ``task_type`` names the type, ``parameters`` are its own.

    ``POST /tasks`` takes it with ``depends_on`` (``<Type>Request``); a schedule with its
    timing (``<Type>ScheduleRequest``).
    """
    model = spec.parameters
    has_defaults = not any(info.is_required() for info in model.model_fields.values())
    parameters: Any = model
    if "extra" not in model.model_config:
        parameters = Annotated[model, BeforeValidator(_known_fields(model))]
    config = _FORBID_EXTRA
    if spec.example is not None:
        example: dict[str, Any] = {"task_type": spec.name, "parameters": dict(spec.example)}
        config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})
    return create_model(
        _model_name(spec),
        __config__=config,
        __doc__=spec.summary,
        task_type=(Literal[spec.name], ...),  # type: ignore[arg-type]
        parameters=(parameters, model() if has_defaults else ...),
        **_OPTIONS,
    )


#: When a schedule is due, beside the task body it submits.
_TIMING: Final[dict[str, Any]] = {
    "every": (
        Annotated[StrictInt, Field(ge=1, le=86_400), BeforeValidator(integral)] | None,
        Field(None, description="Seconds between due times (1 to 86,400); or give `cron`"),
    ),
    "cron": (
        Annotated[str, Field(min_length=1, max_length=200)] | None,
        Field(None, description="Five cron fields: minute hour day-of-month month day-of-week"),
    ),
    "timezone": (
        Annotated[str, Field(min_length=1, max_length=100)] | None,
        Field(None, description="The IANA time zone `cron` is read in (default UTC)"),
    ),
}


class Timed(Submission, Protocol):
    """A schedule's body: a submission plus when it is due."""

    every: int | None
    cron: str | None
    timezone: str | None


def _extended(
    submission: type[BaseModel], suffix: str, doc: str | None, fields: dict[str, Any]
) -> type[BaseModel]:
    """``<Type><suffix>``: the submission of that type with ``fields`` besides.

    ``doc`` may name the type as ``{name}``; without it the submission's own doc is kept.
    """
    name = submission.__name__.removesuffix("Submission")
    doc = submission.__doc__ if doc is None else doc.format(name=name)
    return create_model(f"{name}{suffix}", __base__=submission, __doc__=doc, **fields)


def _body(members: tuple[type[BaseModel], ...]) -> Any:  # noqa: ANN401 - a type expression
    # A discriminated union needs two members; one type is its own request model.
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Field(discriminator="task_type")]  # noqa: UP007


class TaskRequests:
    """The body of ``POST /tasks`` for these task types: validated, described, documented."""

    def __init__(self, types: TaskTypes) -> None:
        self.types = types
        submissions = [_submission_model(spec) for spec in types.values()]
        self.models = {
            name: _extended(model, "Request", None, _DEPENDENCIES)
            for name, model in zip(types, submissions, strict=True)
        }
        self.adapter: TypeAdapter[Any] = TypeAdapter(_body(tuple(self.models.values())))
        # PUT /schedules/{name}: the same body (but dependencies), with when it is due.
        schedules = tuple(
            _extended(model, "ScheduleRequest", "A schedule that submits {name} tasks", _TIMING)
            for model in submissions
        )
        self.schedule_adapter: TypeAdapter[Any] = TypeAdapter(_body(schedules))
        self._expected = ", ".join(types)

    def validate_json(self, body: bytes) -> TaskSubmission:
        """The submission the body holds; raises ``ValidationError``."""
        submission: TaskSubmission = self.adapter.validate_json(body)
        return submission

    def json_schema(self) -> dict[str, Any]:
        """The body's JSON Schema, its models under ``$defs``."""
        return self.adapter.json_schema(ref_template="#/components/schemas/{model}")

    def validate_schedule_json(self, body: bytes) -> Timed:
        """The schedule the body holds: a submission and its timing (or ``ValidationError``)."""
        schedule: Timed = self.schedule_adapter.validate_json(body)
        return schedule

    def schedule_json_schema(self) -> dict[str, Any]:
        """The schedule body's JSON Schema, its models under ``$defs``."""
        return self.schedule_adapter.json_schema(ref_template="#/components/schemas/{model}")

    def describe(self, error: ValidationError) -> str:
        """One readable line that names each wrong field and says why."""
        # A union reports one error per member at the same place; the last one is kept.
        by_field = dict(self._describe(item) for item in error.errors(include_url=False))
        return "; ".join(f"{field}: {message}" for field, message in list(by_field.items())[:5])

    def _describe(self, item: Any) -> tuple[str, str]:  # noqa: ANN401 - pydantic's ErrorDetails
        loc: tuple[int | str, ...] = item["loc"]
        kind: str = item["type"]
        expected = self._expected
        if kind == "union_tag_not_found" or (kind == "missing" and loc == ("task_type",)):
            return "task_type", f"field required, one of {expected}"
        if kind == "union_tag_invalid" or (kind == "literal_error" and loc == ("task_type",)):
            tag = item.get("ctx", {}).get("tag", item.get("input"))
            return "task_type", f"unknown task type {tag!r}, expected one of {expected}"
        if loc and loc[0] in self.types:
            loc = loc[1:]  # the discriminator's tag; the client already knows the task_type
        # Union members add their own names to the location ("int", "float"): drop them.
        path = ".".join(str(part) for part in loc if part not in _UNION_MEMBER_NAMES)
        message = str(item["msg"]).replace("Tuple should", "List should")
        message = message.removeprefix("Value error, ")
        if kind == "finite_number":
            message = "Input should be a finite number (not NaN or infinity)"
        if kind in {"uuid_type", "uuid_parsing"}:
            message = "Input should be a task id (a UUID such as 3f2b8c1e-...)"
        if kind == "string_pattern_mismatch" and item["ctx"]["pattern"] == NO_CONTROL_CHARACTERS:
            message = "control characters (such as newlines or escape sequences) are not allowed"
        return path or "body", message


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


_UNION_MEMBER_NAMES = frozenset({"int", "float", "constrained-int", "constrained-float"})
