"""The process executor: a no-op job's round trip, and the service's loop while jobs compute.

The second figure stands in for "the API still answers while every worker runs a
CPU-bound process job": how late this process's event loop wakes from a 10 ms sleep
while every slot of a pool the size of the default ``TASKMANAGER_WORKERS`` computes,
against the same with the pool idle.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from bench.client import run_on_uvloop
from bench.harness import Profile, Servers
from bench.report import Report, Row
from bench.wrk import Wrk

#: Slots computing at once: the default TASKMANAGER_WORKERS (--quick: two, which boot faster).
SLOTS = 5
QUICK_SLOTS = 2
#: The event loop's nap whose lateness is measured.
NAP = 0.01
#: Jobs timed one by one, after as many that warm up (the child imports the job).
JOBS = 2000
QUICK_JOBS = 100


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


async def _lateness(seconds: float) -> list[float]:
    """How late each 10 ms sleep of this loop wakes, for ``seconds``."""
    late: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        await asyncio.sleep(NAP)
        late.append(time.monotonic() - start - NAP)
    return late


def measure_loop_while_computing(
    report: Report,
    wrk: Wrk,  # noqa: ARG001 - no HTTP
    servers: Servers,  # noqa: ARG001 - no server
    profile: Profile,
) -> None:
    """The event loop's lateness while every slot of the pool computes, against idle."""
    from taskmanager.actors.processes import ProcessPool  # noqa: PLC0415

    slots = SLOTS if profile.settle else QUICK_SLOTS

    async def bench() -> tuple[list[float], list[float]]:
        pool = ProcessPool(slots)
        computing = 0
        all_computing = asyncio.Event()

        def started(_: float) -> None:
            nonlocal computing
            computing += 1
            if computing == slots:
                all_computing.set()

        jobs = [
            asyncio.ensure_future(pool.run(("bench.jobs", "compute"), {}, "bench", 1, started))
            for _ in range(slots)
        ]
        try:
            await all_computing.wait()
            busy = await _lateness(profile.duration)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await pool.close()
        return busy, await _lateness(profile.duration)

    busy, idle = run_on_uvloop(bench())
    busy_p50, busy_p99 = _percentiles(busy)
    idle_p50, idle_p99 = _percentiles(idle)
    report.figures |= {
        "loop_late_busy_p99_ms": busy_p99 / 1000,
        "loop_late_idle_p99_ms": idle_p99 / 1000,
    }
    report.add(
        Row(
            "event loop lateness p50 / p99, every process slot computing",
            f"{busy_p50 / 1000:.1f} / {busy_p99 / 1000:.1f} ms",
            baseline=f"{idle_p50 / 1000:.1f} / {idle_p99 / 1000:.1f} ms",
            target="p99 < 50 ms",
            passed=busy_p99 / 1000 < 50,  # noqa: PLR2004
            note=f"how late a {NAP * 1000:g} ms sleep of the service's loop wakes while "
            f"{slots} CPU-bound jobs run in the pool (nice +10), on {os.cpu_count()} CPUs; "
            "the baseline: the same with the pool idle",
        )
    )
