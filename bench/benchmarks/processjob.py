"""The process executor: the pool's own round trip, a whole task, and the API meanwhile.

- A no-op job through the pool alone, one at a time, against a no-op coroutine.
- A no-op ``process`` task through the real server, submit to completed, against a no-op
  ``async`` task: what choosing the process executor costs a task.
- ``GET /tasks/{id}`` latency while every worker runs a CPU-bound ``process`` job, against
  the same service idle: the API must still answer (p99 under 50 ms).

The server's task types are ``bench.jobs``, named in ``TASKMANAGER_TASKS``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time

from bench.client import KeptAlive, http_call, run_on_uvloop
from bench.harness import Profile, Servers
from bench.jobs import COMPUTING
from bench.report import Report, Row, ms
from bench.wrk import Wrk

#: Slots computing at once: the default TASKMANAGER_WORKERS (--quick: two, which boot faster).
SLOTS = 5
QUICK_SLOTS = 2
#: The service's task types: the demo's, and the bench's own.
TASKS = "taskmanager.demo,bench.jobs"
#: Whole tasks timed per executor, after as many that warm up (--quick: no warm-up).
TASKS_TIMED = 1000
QUICK_TASKS_TIMED = 50
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


def _body(task_type: str) -> bytes:
    return json.dumps({"task_type": task_type, "parameters": {}}).encode()


async def _run_task(client: KeptAlive, body: bytes) -> float:
    """Submit one task and long-poll it until it completes; the seconds that took."""
    start = time.perf_counter()
    status, reply = await client.request("POST", "/tasks", body)
    if status != 202:  # noqa: PLR2004
        raise SystemExit(f"bench: POST /tasks answered {status}: {reply[:200]!r}")
    task = json.loads(reply)
    while task["status"] not in {"completed", "failed", "cancelled"}:
        status, reply = await client.request("GET", f"/tasks/{task['task_id']}?wait=true")
        task = json.loads(reply)
    if task["status"] != "completed":
        raise SystemExit(f"bench: a {task['task_type']} task ended {task['status']}: {task}")
    return time.perf_counter() - start


def measure_process_task(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:  # noqa: ARG001 - its own client
    """A no-op task, submit to completed, in the process executor against the async one."""
    count = TASKS_TIMED if profile.settle else QUICK_TASKS_TIMED
    # Each worker spawns its own child on its first process job: past those before timing.
    warmup = count if profile.settle else 2 * SLOTS

    async def bench(port: int) -> tuple[list[float], list[float]]:
        client = await KeptAlive.open(port)
        process: list[float] = []
        coroutine: list[float] = []
        try:
            # Alternating, so that both see the same moments of a noisy machine.
            for number in range(warmup + count):
                in_process = await _run_task(client, _body("bench_noop"))
                as_coroutine = await _run_task(client, _body("bench_noop_async"))
                if number >= warmup:
                    process.append(in_process)
                    coroutine.append(as_coroutine)
        finally:
            client.close()
        return process, coroutine

    with servers.product("process-task", tasks=TASKS) as server:
        process, coroutine = run_on_uvloop(bench(server.port))
    process_p50, process_p99 = (value / 1000 for value in _percentiles(process))
    async_p50, async_p99 = (value / 1000 for value in _percentiles(coroutine))
    report.figures |= {
        "process_task_p50_ms": process_p50,
        "process_task_p99_ms": process_p99,
        "async_task_p50_ms": async_p50,
        "async_task_p99_ms": async_p99,
    }
    report.add(
        Row(
            "no-op process task, submit to completed, p50 / p99",
            f"{ms(process_p50)} / {ms(process_p99)}",
            baseline=f"{ms(async_p50)} / {ms(async_p99)}",
            ratio=f"+{ms(process_p50 - async_p50)}",
            note=f"{count} tasks of each executor, alternating, one at a time over one "
            "kept-alive connection: POST /tasks, then GET /tasks/{id}?wait=true until "
            "completed; the baseline is the same no-op as an async job; the ratio column "
            "is the process executor's extra cost at the median",
        )
    )


async def _get_latencies(port: int, task_id: str, seconds: float) -> list[float]:
    """Seconds per ``GET /tasks/{id}``, one after another on one connection, for ``seconds``."""
    client = await KeptAlive.open(port)
    latencies: list[float] = []
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            status, reply = await client.request("GET", f"/tasks/{task_id}")
            latencies.append(time.perf_counter() - start)
            if status != 200:  # noqa: PLR2004
                raise SystemExit(f"bench: GET /tasks/{{id}} answered {status}: {reply[:200]!r}")
    finally:
        client.close()
    return latencies


def _task(port: int, method: str, path: str, body: bytes = b"") -> dict[str, object]:
    status, _, reply = http_call(port, method, path, body)
    if status not in {200, 202}:
        raise SystemExit(f"bench: {method} {path} answered {status}: {reply[:200]!r}")
    task: dict[str, object] = json.loads(reply)
    return task


def _wait_computing(port: int, task_ids: list[str], timeout: float = 60) -> None:
    """Wait until every job reported that it computes (the child is up and busy)."""
    deadline = time.monotonic() + timeout
    waiting = list(task_ids)
    while waiting:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {len(waiting)} CPU-bound jobs did not start in time")
        task = _task(port, "GET", f"/tasks/{waiting[0]}")
        if task["status"] != "processing" and task["status"] != "queued":
            raise SystemExit(f"bench: a CPU-bound job ended {task['status']}: {task}")
        if task["progress"] == COMPUTING:
            waiting.pop(0)
        else:
            time.sleep(0.05)


def measure_api_while_computing(
    report: Report,
    wrk: Wrk,  # noqa: ARG001 - latency one request at a time, not throughput
    servers: Servers,
    profile: Profile,
) -> None:
    """``GET /tasks/{id}`` while every worker runs a CPU-bound process job, against idle."""
    slots = SLOTS if profile.settle else QUICK_SLOTS
    with servers.product("process-load", tasks=TASKS, workers=slots) as server:
        task_id = str(_task(server.port, "POST", "/tasks", _body("bench_noop_async"))["task_id"])
        if profile.settle:
            run_on_uvloop(_get_latencies(server.port, task_id, profile.warmup))
        idle = run_on_uvloop(_get_latencies(server.port, task_id, profile.duration))
        computing = [
            str(_task(server.port, "POST", "/tasks", _body("bench_compute"))["task_id"])
            for _ in range(slots)
        ]
        try:
            _wait_computing(server.port, computing)
            busy = run_on_uvloop(_get_latencies(server.port, task_id, profile.duration))
        finally:
            for job in computing:
                _task(server.port, "DELETE", f"/tasks/{job}")
    busy_p50, busy_p99 = (value / 1000 for value in _percentiles(busy))
    idle_p50, idle_p99 = (value / 1000 for value in _percentiles(idle))
    report.figures |= {
        "get_computing_p50_ms": busy_p50,
        "get_computing_p99_ms": busy_p99,
        "get_idle_p50_ms": idle_p50,
        "get_idle_p99_ms": idle_p99,
    }
    report.add(
        Row(
            "GET /tasks/{id} p50 / p99, every worker running a CPU-bound process job",
            f"{ms(busy_p50)} / {ms(busy_p99)}",
            baseline=f"{ms(idle_p50)} / {ms(idle_p99)}",
            ratio=f"{busy_p99 / idle_p99:.1f}x",
            target="p99 < 50 ms",
            passed=busy_p99 < 50,  # noqa: PLR2004
            note=f"{len(busy):,} requests one after another on one kept-alive connection "
            f"while all {slots} workers (TASKMANAGER_WORKERS={slots}) each run a CPU-bound "
            f"process job (nice +10), on {os.cpu_count()} CPUs; the baseline: "
            f"{len(idle):,} requests to the same service idle",
        )
    )
