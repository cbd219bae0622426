"""The built-in demo task types, written as any user's task types are.

Each is a pydantic model (the parameters) and an ``async def`` marked ``@task_type``.
The work is simulated with ``ctx.sleep``, which the worker scales by
``TASKMANAGER_TIME_SCALE``.
"""

from __future__ import annotations

import math
from typing import Annotated, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from taskmanager.jobs import Context, JSONValue, task_type

STEP_SECONDS: Final = 5.0
REPORT_CAP_SECONDS: Final = 30.0


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

# Frozen: a task record shares its parameters with the actors that hold it.
_PARAMETERS: Final = ConfigDict(extra="forbid", frozen=True)


class ComputeSum(BaseModel):
    """The numbers to add up."""

    model_config = _PARAMETERS

    numbers: Annotated[
        tuple[Number, ...],
        Field(min_length=1, max_length=10_000, description="The numbers to add up"),
    ]


class GenerateReport(BaseModel):
    """The report's title and how many sections it has."""

    model_config = _PARAMETERS

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


class SimulateError(BaseModel):
    """How the task fails."""

    model_config = _PARAMETERS

    error: Annotated[
        Literal["value_error", "timeout", "crash"],
        Field(description="How it fails: `value_error` is never retried, the others may be"),
    ] = "value_error"


class Timeout(Exception):  # noqa: N818 - its snake_case name is the error type clients see
    """The simulated work took too long (``error.type`` ``timeout``: retryable)."""


class Crash(Exception):  # noqa: N818 - as above
    """The simulated job crashed (``error.type`` ``crash``: retryable)."""


@task_type("compute_sum", example={"numbers": [1, 2, 3.5]})
async def compute_sum(params: ComputeSum, ctx: Context) -> JSONValue:
    """Add up 1 to 10,000 finite numbers (5 s of simulated work).

    The sum is exact for integers and correctly rounded for floats.
    """
    await ctx.sleep(STEP_SECONDS)
    if all(isinstance(number, int) for number in params.numbers):
        return sum(params.numbers)
    try:
        return math.fsum(params.numbers)
    except OverflowError:  # finite numbers whose sum is not: no JSON number holds it
        raise ValueError("the sum is too large for a 64-bit float") from None


@task_type("generate_report", example={"title": "Quarterly figures", "sections": 2})
async def generate_report(params: GenerateReport, ctx: Context) -> JSONValue:
    """Write a report of 1 to 10 sections under a title (5 s per section, 30 s at most)."""
    per_section = min(STEP_SECONDS, REPORT_CAP_SECONDS / params.sections)
    lines = [f"# {params.title}", ""]
    for index in range(1, params.sections + 1):
        await ctx.sleep(per_section)
        lines += [
            f"## Section {index} of {params.sections}",
            f"Findings for {params.title}, part {index}.",
            "",
        ]
        ctx.progress(index / params.sections)
    return "\n".join(lines).rstrip() + "\n"


@task_type("simulate_error", retry_on=(Timeout, Crash), example={"error": "timeout"})
async def simulate_error(params: SimulateError, ctx: Context) -> JSONValue:
    """Run for 5 s, then fail the way `error` says."""
    await ctx.sleep(STEP_SECONDS)
    match params.error:
        case "value_error":
            raise ValueError("simulated failure: the input was rejected")
        case "timeout":
            raise Timeout("simulated failure: the work took too long")
        case "crash":
            raise Crash("simulated crash inside the job")
