"""The task types. Each is one class: its fields are the parameters, ``run`` is the job.

Validation, the OpenAPI schema and its examples, and the monitor's submit form all
follow from these classes; adding a task type means adding a class and listing it in
``PARAMETERS``. Durations are simulated with ``Work.sleep``, which the worker scales by
``TASKMANAGER_TIME_SCALE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, Protocol, Union

from pydantic import BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema

# Validated as this union, documented as "any JSON value": openapi-python-client cannot
# parse a recursive schema, and drops every schema that refers to one.
type JSONValue = Annotated[
    str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None,
    WithJsonSchema({"description": "Any JSON value"}),
]

STEP_SECONDS: Final = 5.0
REPORT_CAP_SECONDS: Final = 30.0


class Work(Protocol):
    """What a job may do besides computing: wait (simulated time) and report progress."""

    async def sleep(self, seconds: float) -> None:
        """Simulate ``seconds`` of work (scaled by the time scale)."""
        ...

    def progress(self, fraction: float) -> None:
        """Report how far the job is, 0.0 to 1.0."""
        ...


class TaskFailedError(Exception):
    """A job failed in a way it expected; ``error_type`` is the client's ``error.type``."""

    error_type: ClassVar[str] = "failed"


class TaskValueError(TaskFailedError):
    """The job rejected its input; never retried."""

    error_type = "value_error"


class TaskTimeoutError(TaskFailedError):
    """The job ran out of time."""

    error_type = "timeout"


_FORBID_EXTRA: Final = ConfigDict(extra="forbid")


class TaskParameters:
    """What every task type's parameters class provides."""

    __slots__ = ()
    #: The ``task_type`` clients send.
    task_type: ClassVar[str]
    #: Parameters shown in the documentation and tried from Swagger UI.
    example: ClassVar[dict[str, Any]]

    async def run(self, work: Work) -> JSONValue:
        """Do the job and return its result; raise ``TaskFailedError`` to fail it."""
        raise NotImplementedError


#: Text that refuses control characters (C0, DEL and C1): text parameters end up in
#: terminals and logs, where one could be an escape sequence.
NO_CONTROL_CHARACTERS: Final = r"^[^\x00-\x1f\x7f-\x9f]*$"


def integral(value: object) -> object:
    """Read 7.0 as 7: JSON (and JSON Schema's ``integer``) does not tell them apart."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Integers stay exact; anything else must be a finite float. Bounding the integers keeps
# a single number from turning the sum into an arbitrarily large computation.
type Number = (
    Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
)


@dataclass(frozen=True, slots=True)
class ComputeSum(TaskParameters):
    """Add up 1 to 10,000 finite numbers (5 s of simulated work)."""

    __pydantic_config__ = _FORBID_EXTRA
    task_type: ClassVar[str] = "compute_sum"
    example: ClassVar[dict[str, Any]] = {"numbers": [1, 2, 3.5]}

    numbers: Annotated[
        tuple[Number, ...],
        Field(min_length=1, max_length=10_000, description="The numbers to add up"),
    ]

    async def run(self, work: Work) -> JSONValue:
        """The sum: exact for integers, correctly rounded for floats."""
        await work.sleep(STEP_SECONDS)
        if all(isinstance(number, int) for number in self.numbers):
            return sum(self.numbers)
        try:
            return math.fsum(self.numbers)
        except OverflowError:  # finite numbers whose sum is not: no JSON number holds it
            raise TaskValueError("the sum is too large for a 64-bit float") from None


@dataclass(frozen=True, slots=True)
class GenerateReport(TaskParameters):
    """Write a report of 1 to 10 sections under a title (5 s per section, 30 s at most)."""

    __pydantic_config__ = _FORBID_EXTRA
    task_type: ClassVar[str] = "generate_report"
    example: ClassVar[dict[str, Any]] = {"title": "Quarterly figures", "sections": 2}

    title: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=NO_CONTROL_CHARACTERS,
            description="The report's title",
        ),
    ]
    # An integer, also when written 7.0; the bounds come before the validator, so that
    # they stay in the JSON Schema.
    sections: Annotated[
        StrictInt,
        Field(ge=1, le=10, description="How many sections; each takes 5 s"),
        BeforeValidator(integral),
    ] = 3

    async def run(self, work: Work) -> JSONValue:
        """The report's text, a section at a time."""
        per_section = min(STEP_SECONDS, REPORT_CAP_SECONDS / self.sections)
        lines = [f"# {self.title}", ""]
        for index in range(1, self.sections + 1):
            await work.sleep(per_section)
            lines += [
                f"## Section {index} of {self.sections}",
                f"Findings for {self.title}, part {index}.",
                "",
            ]
            work.progress(index / self.sections)
        return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True, slots=True)
class SimulateError(TaskParameters):
    """Run for 5 s, then fail the way ``error`` says."""

    __pydantic_config__ = _FORBID_EXTRA
    task_type: ClassVar[str] = "simulate_error"
    example: ClassVar[dict[str, Any]] = {"error": "timeout"}

    error: Annotated[
        Literal["value_error", "timeout", "crash"],
        Field(description="How it fails: `value_error` is never retried, the others may be"),
    ] = "value_error"

    async def run(self, work: Work) -> JSONValue:
        """Fail: ``value_error`` and ``timeout`` as expected failures, ``crash`` as a crash."""
        await work.sleep(STEP_SECONDS)
        match self.error:
            case "value_error":
                raise TaskValueError("simulated failure: the input was rejected")
            case "timeout":
                raise TaskTimeoutError("simulated failure: the work took too long")
            case "crash":
                raise RuntimeError("simulated crash inside the job")


#: Every task type, in the order the documentation and the monitor list them.
PARAMETERS: Final[tuple[type[TaskParameters], ...]] = (ComputeSum, GenerateReport, SimulateError)
TASK_TYPES: Final[dict[str, type[TaskParameters]]] = {cls.task_type: cls for cls in PARAMETERS}

if TYPE_CHECKING:
    type Parameters = TaskParameters
else:
    # Pydantic needs the concrete classes to validate, serialize and document a record.
    Parameters = Union[PARAMETERS]  # noqa: UP007 - built from the tuple at run time
