"""Task types as a user writes them, for the tests of executors and outcomes.

The thread jobs wait on ``GATES`` (threading events the tests open), so a test decides
when a job's thread returns, with no sleep.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from pydantic import BaseModel, Field

from taskmanager.jobs import Context, task_type

#: Opened by a test to let the thread job of that name return.
GATES: defaultdict[str, threading.Event] = defaultdict(threading.Event)
#: Set by the thread job of that name once it has reported progress and waits.
REACHED: defaultdict[str, threading.Event] = defaultdict(threading.Event)
#: What each thread job saw of ``ctx.cancelled`` once its gate opened.
SAW_CANCELLED: dict[str, bool] = {}


class Gate(BaseModel):
    """Which gate the job waits on, and how far it says it is before waiting."""

    name: str = Field(max_length=50)
    progress: float = 0.5
    word: str = Field("done", description="What the job returns")


class Flaky(BaseModel):
    """Which exception the job raises."""

    error: str = Field(description="key, value, connection or http")


class Nothing(BaseModel):
    """No parameters."""


class Words(BaseModel):
    """Text and how many times to repeat it."""

    text: str = Field(max_length=1_000)
    times: int = Field(1, ge=1, le=100)
    tags: list[str] = Field(default_factory=list)


@task_type("gated")
def gated(params: Gate, ctx: Context) -> str:
    """A thread job that reports progress, then waits for its gate."""
    ctx.progress(params.progress)
    REACHED[params.name].set()
    GATES[params.name].wait(timeout=30)
    SAW_CANCELLED[params.name] = ctx.cancelled
    return f"{params.word} on attempt {ctx.attempt}"


class HTTPStatusError(Exception):
    """An error whose name has an acronym: ``http_status_error``."""


@task_type("flaky", retry_on=(ConnectionError,))
async def flaky(params: Flaky, ctx: Context) -> str:
    """Fails as asked; only ConnectionError is worth another attempt."""
    if ctx.attempt > 1:
        return f"worked on attempt {ctx.attempt}"
    match params.error:
        case "key":
            raise KeyError("missing")
        case "connection":
            raise ConnectionError("the peer went away")
        case "http":
            raise HTTPStatusError("418")
        case _:
            raise ValueError("bad value")


@task_type("not_json")
async def not_json(params: Nothing, ctx: Context) -> object:
    """Returns something JSON cannot hold."""
    return {1, 2}


@task_type("repeat", example={"text": "hello", "times": 3})
async def repeat(params: Words, ctx: Context) -> list[str]:
    """The text, ``times`` times."""
    return [params.text] * params.times + params.tags


class Count(BaseModel):
    """How far to count."""

    up_to: int = Field(ge=1, le=1_000_000)


@task_type("count", executor="process")
def count(params: Count, ctx: Context) -> int:
    """CPU-bound: adds up the numbers to ``up_to``, reporting progress."""
    total = 0
    for number in range(1, params.up_to + 1):
        total += number
        if number % 1000 == 0:
            ctx.progress(number / params.up_to)
    return total


@task_type("gather")
async def gather(params: Nothing, ctx: Context) -> dict[str, object]:
    """The results of the tasks it depends on, by task id."""
    return {str(task_id): result for task_id, result in ctx.dependencies.items()}


@task_type("gather_in_process", executor="process")
def gather_in_process(params: Nothing, ctx: Context) -> dict[str, object]:
    """The same, from a process of the pool."""
    return {str(task_id): result for task_id, result in ctx.dependencies.items()}
