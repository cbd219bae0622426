"""Tiny jobs for the process pool's tests, imported by name in its spawned children.

``tests`` is on ``sys.path`` (pytest's ``pythonpath``), and a spawned child starts with
its parent's ``sys.path``, so the children find this module as ``processjobs``.
"""

from __future__ import annotations

import ctypes
import math
import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel, Field


class Numbers(BaseModel):
    values: list[int] = Field(min_length=1)


class Nothing(BaseModel):
    pass


class PidFile(BaseModel):
    """Where a job writes its pid (and, for the latency test, when it reported progress)."""

    path: str


class Steps(BaseModel):
    count: int


class Failure(BaseModel):
    kind: str


class FlakyNetworkError(ConnectionError):
    pass


def add(params: Numbers, ctx) -> int:
    return sum(params.values)


def whoami(params: Nothing, ctx) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "cancelled": ctx.cancelled,
        "params": type(params).__name__,
        "niceness": os.getpriority(os.PRIO_PROCESS, 0),
    }


async def add_async(params: Numbers, ctx) -> int:
    return sum(params.values)


def spin_forever(params: PidFile, ctx) -> None:
    """Write the pid, say so by a progress report, then compute until killed."""
    Path(params.path).write_text(str(os.getpid()))
    ctx.progress(0.5)
    while True:
        math.factorial(500)


def spin_ignoring_sigterm(params: PidFile, ctx) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    spin_forever(params, ctx)


def report_then_compute(params: PidFile, ctx) -> None:
    """Note the clock, report progress once, then hold the GIL computing until killed."""
    Path(params.path).write_text(repr(time.monotonic()))
    ctx.progress(0.25)
    while True:
        math.factorial(500)


def many_reports(params: Steps, ctx) -> int:
    for step in range(1, params.count + 1):
        ctx.progress(step / params.count)
    return params.count


def fail(params: Failure, ctx) -> object:
    match params.kind:
        case "key":
            raise KeyError("missing")
        case "retryable":
            raise FlakyNetworkError("the network went away")
        case "exit":
            os._exit(3)
        case "segfault":
            ctypes.string_at(0)
        case "oom_killed":  # what the kernel's out-of-memory killer does
            os.kill(os.getpid(), signal.SIGKILL)
        case "not_json":
            return {1, 2}
        case "nan":
            return math.nan
    return None


fail.retry_on = (ConnectionError,)  # type: ignore[attr-defined]


class Declared:
    """What ``@task_type`` leaves on a function: its parameters model and retry_on."""

    def __init__(self, name, function, parameters: type[BaseModel], retry_on: tuple) -> None:
        self.name = name
        self.function = function
        self.parameters = parameters
        self.retry_on = retry_on


class Flaky(BaseModel):
    fail_with: str = ""


def flaky(params: Flaky, ctx) -> dict[str, str]:
    """A declared job: ValueError is in its retry_on, KeyError is not."""
    ctx.logger.info("attempt %s of task %s", ctx.attempt, ctx.task_id)
    ctx.progress(0.5)
    match params.fail_with:
        case "value":
            raise ValueError("try again")
        case "key":
            raise KeyError("no")
        case "exit":
            os._exit(9)
        case "set":
            return {1}  # type: ignore[return-value]
    return {"task_id_type": type(ctx.task_id).__name__, "logger": ctx.logger.name}


flaky.__task_type__ = Declared("flaky", flaky, Flaky, (ValueError,))  # type: ignore[attr-defined]


class Text(BaseModel):
    text: str


def length(params: Text, ctx) -> int:
    return len(params.text)
