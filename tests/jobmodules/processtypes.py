"""Process jobs as a user writes them, for the process executor's tests."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import BaseModel

from taskmanager.jobs import Context, task_type


class PidFile(BaseModel):
    path: str


class Failure(BaseModel):
    how: str


@task_type("spin", executor="process")
def spin(params: PidFile, ctx: Context) -> None:
    """Write the pid, report, then compute until killed."""
    Path(params.path).write_text(str(os.getpid()))
    ctx.progress(0.5)
    while True:
        math.factorial(500)


@task_type("breaks", executor="process", retry_on=(ConnectionError,))
def breaks(params: Failure, ctx: Context) -> object:
    """Fails as asked, from its process."""
    if ctx.attempt > 1:
        return {"attempt": ctx.attempt, "pid": os.getpid()}
    match params.how:
        case "exit":
            os._exit(7)
        case "connection":
            raise ConnectionError("the peer went away")
        case "key":
            raise KeyError("missing")
        case "set":
            return {1, 2}
    return {"attempt": ctx.attempt, "pid": os.getpid()}
