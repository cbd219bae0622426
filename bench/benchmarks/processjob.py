"""The process executor's cost: a no-op job in a pooled child process against a coroutine."""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.client import run_on_uvloop
from bench.harness import Profile, Servers
from bench.report import Report, Row
from bench.wrk import Wrk

#: Jobs timed one by one, after as many that warm up (the child imports the job).
JOBS = 2000
QUICK_JOBS = 200


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, in microseconds."""
    cuts = statistics.quantiles(seconds, n=100)
    return statistics.median(seconds) * 1e6, cuts[98] * 1e6


def measure_process_job(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:  # noqa: ARG001 - no server, no HTTP
    """Time per no-op job, one at a time: in a pooled child process, and as a coroutine."""
    from taskmanager.actors.processes import ProcessPool  # noqa: PLC0415

    async def noop() -> None:
        pass

    def ignore(_: float) -> None:
        pass

    jobs = JOBS if profile.settle else QUICK_JOBS

    async def bench() -> tuple[list[float], list[float]]:
        pool = ProcessPool(1)
        pool.start()
        in_process: list[float] = []
        as_coroutine: list[float] = []
        try:
            for number in range(2 * jobs):
                start = time.perf_counter()
                await pool.run(("bench.jobs", "noop"), {}, "bench", 1, ignore)
                middle = time.perf_counter()
                await asyncio.create_task(noop())
                if number >= jobs:
                    in_process.append(middle - start)
                    as_coroutine.append(time.perf_counter() - middle)
        finally:
            await pool.close()
        return in_process, as_coroutine

    in_process, as_coroutine = run_on_uvloop(bench())
    process_p50, process_p99 = _percentiles(in_process)
    coroutine_p50, coroutine_p99 = _percentiles(as_coroutine)
    report.figures |= {
        "process_job_p50_us": process_p50,
        "process_job_p99_us": process_p99,
        "coroutine_job_p50_us": coroutine_p50,
        "coroutine_job_p99_us": coroutine_p99,
    }
    report.add(
        Row(
            "no-op process job, round trip p50 / p99",
            f"{process_p50:.0f} / {process_p99:.0f} us",
            baseline=f"{coroutine_p50:.1f} / {coroutine_p99:.1f} us",
            ratio=f"{process_p50 / coroutine_p50:.0f}x",
            target="p50 < 1 ms",
            passed=process_p50 < 1000,  # noqa: PLR2004
            note=f"{jobs} jobs one after another in one pooled child, uvloop; the baseline "
            "is a no-op coroutine run as a task; the pool alone, without worker and store",
        )
    )
