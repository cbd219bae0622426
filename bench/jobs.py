"""Task types the benchmarks run: no-op jobs in each executor, and a CPU-bound process job.

A module of its own, so that a job's child process imports nothing else of the bench. The
benchmarks start the service with ``TASKMANAGER_TASKS=taskmanager.demo,bench.jobs``; the
pool-only benchmark calls the functions through the pool directly.
"""

from __future__ import annotations

from pydantic import BaseModel

from taskmanager.jobs import Context, task_type

#: The progress ``compute`` reports once it computes: the bench waits for it.
COMPUTING = 0.01


class NoParameters(BaseModel):
    """A job that takes nothing."""


@task_type("bench_noop", executor="process")
def noop(params: NoParameters, ctx: Context) -> None:
    """Do nothing in a worker process: what is measured is the way there and back."""


@task_type("bench_noop_async")
async def noop_async(params: NoParameters, ctx: Context) -> None:
    """Do nothing on the worker's event loop: the baseline of ``bench_noop``."""


@task_type("bench_compute", executor="process")
def compute(params: NoParameters, ctx: Context) -> None:
    """Hold a core until killed; report once, so that the bench knows it computes."""
    del params
    ctx.progress(COMPUTING)
    while True:
        sum(range(10_000))
