"""Jobs the benchmarks run in the process executor.

A module of its own, so that a job's child process imports nothing else of the bench.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class NoParameters(BaseModel):
    """A job that takes nothing."""


def noop(params: NoParameters, ctx: Any) -> None:  # noqa: ANN401 - the job protocol
    """Do nothing: what is measured is the round trip to the process and back."""


def compute(params: NoParameters, ctx: Any) -> None:  # noqa: ANN401 - the job protocol
    """Hold a core until killed; report once, so that the bench knows it computes."""
    del params
    ctx.progress(0.0)
    while True:
        sum(range(10_000))
