"""The simulated task types: one ``match`` over the parameters, durations from the SPEC."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import ClassVar

from taskmanager.actors.model import (
    ComputeSum,
    GenerateReport,
    JSONValue,
    Parameters,
    SimulateError,
)

type Sleep = Callable[[float], Awaitable[None]]
type ReportProgress = Callable[[float], None]

STEP_SECONDS = 5.0
REPORT_CAP_SECONDS = 30.0


class TaskFailedError(Exception):
    """A job failed in a way it expected; ``error_type`` is the client's ``error.type``."""

    error_type: ClassVar[str] = "failed"


class TaskValueError(TaskFailedError):
    """The job rejected its input."""

    error_type = "value_error"


class TaskTimeoutError(TaskFailedError):
    """The job ran out of time."""

    error_type = "timeout"


async def run_job(
    parameters: Parameters, sleep: Sleep, report_progress: ReportProgress
) -> JSONValue:
    """Do the work the parameters describe and return the result.

    Raises ``TaskFailedError`` for an expected failure; any other exception is a crash.
    """
    match parameters:
        case ComputeSum(numbers=numbers):
            await sleep(STEP_SECONDS)
            if all(isinstance(number, int) for number in numbers):
                return sum(numbers)
            try:
                return math.fsum(numbers)
            except OverflowError:  # finite numbers whose sum is not: no JSON number holds it
                raise TaskValueError("the sum is too large for a 64-bit float") from None
        case GenerateReport(title=title, sections=sections):
            per_section = min(STEP_SECONDS, REPORT_CAP_SECONDS / sections)
            lines = [f"# {title}", ""]
            for index in range(1, sections + 1):
                await sleep(per_section)
                lines += [
                    f"## Section {index} of {sections}",
                    f"Findings for {title}, part {index}.",
                    "",
                ]
                report_progress(index / sections)
            return "\n".join(lines).rstrip() + "\n"
        case SimulateError(error=error):
            await sleep(STEP_SECONDS)
            match error:
                case "value_error":
                    raise TaskValueError("simulated failure: the input was rejected")
                case "timeout":
                    raise TaskTimeoutError("simulated failure: the work took too long")
                case "crash":
                    raise RuntimeError("simulated crash inside the job")
