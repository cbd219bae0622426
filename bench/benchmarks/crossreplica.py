"""Across replicas: how soon a change made on one replica is seen on another.

Two replicas, A and B, on one Redis. Every cancel is sent to B; what is timed is how soon
A acts on it, from the moment B's DELETE answered (so the figure can be slightly
negative: A may act before B's answer reaches the client).
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.client import KeptAlive, read_response, run_on_uvloop
from bench.harness import Profile, Servers
from bench.report import Report, Row, ms, percentile
from bench.server import Server
from bench.tasks import SUBMIT_BODY
from bench.wrk import Wrk

TARGET_MS = 100.0  # SPEC.md, Scale-out: p99 within 100 ms
# Tasks that wait a day: they stay queued, and take no worker.
DELAYED_BODY = b'{"task_type":"compute_sum","parameters":{"numbers":[1,2,3]},"delay":86400}'
# With TIME_SCALE=100 a compute_sum runs for 500 s: it is running when it is cancelled.
TIME_SCALE = 100
POLLS_AT_ONCE = 100  # long-polls held at once; each sample cancels one of them
STEADY_SECONDS = 10.0  # for B's heartbeat to report its worker busy (a quarter of the lease)


def measure_cross_replica(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:  # noqa: ARG001 - no load, one request at a time
    """Long-poll wake-ups and cancels across two replicas with one worker each.

    B's only worker is kept busy by a long task of its own, so every task submitted
    after it runs on A, and B's figure in the service's /stats stays 1 busy worker.
    """
    samples = profile.latency_samples
    with servers.redis() as redis:
        # No shutdown grace: B still runs its long task when it stops.
        replica = {"time_scale": TIME_SCALE, "workers": 1, "shutdown_grace": 0}
        with servers.replica("replica-b", redis, "cross", **replica) as b:
            run_on_uvloop(_occupy(b))
            with servers.replica("replica-a", redis, "cross", **replica) as a:
                wakes = run_on_uvloop(_long_poll_latencies(a, b, samples))
                cancels = run_on_uvloop(_cancel_latencies(a, b, samples))
    _add_rows(
        report,
        "long-poll on one replica, cancel on another: wake-up",
        "longpoll",
        wakes,
        "a long-poll (?wait=true) on replica A for a queued task, a DELETE of it on "
        "replica B; from B's answer to A's answer to the long-poll",
    )
    _add_rows(
        report,
        "cancel on one replica reaches the job on another",
        "cancel",
        cancels,
        "a task running on replica A (its one worker), a DELETE of it on replica B; "
        "from B's answer until A's GET /stats, polled back to back (1-2 ms apart), shows "
        "A's worker idle: the job was cancelled in its worker and the worker freed",
    )


def _add_rows(report: Report, name: str, key: str, delays: list[float], how: str) -> None:
    ordered = sorted(d * 1000 for d in delays)
    p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
    report.figures |= {f"cross_{key}_p50_ms": p50, f"cross_{key}_p99_ms": p99}
    note = f"{how}; {len(ordered):,} samples, one at a time; max {ms(ordered[-1])}"
    report.add(Row(f"{name}, p50", ms(p50), note=note))
    report.add(
        Row(
            f"{name}, p99",
            ms(p99),
            target=f"< {TARGET_MS:.0f} ms",
            passed=p99 < TARGET_MS,
        )
    )


async def _occupy(b: Server) -> None:
    """Give B's only worker a long task, and wait until the service's /stats counts it."""
    client = await KeptAlive.open(b.port)
    try:
        status, body = await client.request("POST", "/tasks", SUBMIT_BODY.encode())
        if status != 202:  # noqa: PLR2004
            raise SystemExit(f"bench: POST /tasks answered {status}: {body[:200]!r}")
        await _wait_busy(client, 1, STEADY_SECONDS)
    finally:
        client.close()


async def _busy(client: KeptAlive) -> int:
    status, body = await client.request("GET", "/stats")
    if status != 200:  # noqa: PLR2004
        raise SystemExit(f"bench: GET /stats answered {status}: {body[:200]!r}")
    busy: int = json.loads(body)["workers"]["busy"]
    return busy


async def _wait_busy(client: KeptAlive, busy: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await _busy(client) != busy:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: /stats never showed {busy} busy workers")
        await asyncio.sleep(0.01)  # the heartbeat of another process: nothing to wait on


async def _submit(client: KeptAlive, body: bytes) -> str:
    status, reply = await client.request("POST", "/tasks", body)
    if status != 202:  # noqa: PLR2004
        raise SystemExit(f"bench: POST /tasks answered {status}: {reply[:200]!r}")
    task_id: str = json.loads(reply)["task_id"]
    return task_id


async def _cancel(client: KeptAlive, task_id: str) -> float:
    """DELETE the task; the moment the answer came."""
    status, reply = await client.request("DELETE", f"/tasks/{task_id}")
    answered = time.perf_counter()
    if status != 200 or json.loads(reply)["status"] != "cancelled":  # noqa: PLR2004
        raise SystemExit(f"bench: DELETE answered {status}: {reply[:200]!r}")
    return answered


async def _long_poll_latencies(a: Server, b: Server, samples: int) -> list[float]:
    """Hold long-polls on A for queued tasks; cancel them on B one by one."""
    on_a, on_b = await KeptAlive.open(a.port), await KeptAlive.open(b.port)
    delays: list[float] = []
    try:
        while len(delays) < samples:
            batch = min(POLLS_AT_ONCE, samples - len(delays))
            ids = [await _submit(on_a, DELAYED_BODY) for _ in range(batch)]
            polls = [await KeptAlive.open(a.port) for _ in ids]
            try:
                for poll, task_id in zip(polls, ids, strict=True):
                    poll.writer.write(
                        f"GET /tasks/{task_id}?wait=true HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
                    )
                await _wait_waiters(on_a, batch)
                for poll, task_id in zip(polls, ids, strict=True):
                    answer = asyncio.ensure_future(_answered(poll))
                    cancelled = await _cancel(on_b, task_id)
                    woke, status = await answer
                    if status != "cancelled":
                        raise SystemExit(f"bench: the long-poll answered {status!r}")
                    delays.append(woke - cancelled)
            finally:
                for poll in polls:
                    poll.close()
    finally:
        on_a.close()
        on_b.close()
    return delays


async def _answered(poll: KeptAlive) -> tuple[float, str]:
    """When a long-poll sent earlier answers, and the status it answers with."""
    status, body = await read_response(poll.reader)
    woke = time.perf_counter()
    if status != 200:  # noqa: PLR2004
        raise SystemExit(f"bench: the long-poll answered {status}: {body[:200]!r}")
    task_status: str = json.loads(body)["status"]
    return woke, task_status


async def _wait_waiters(client: KeptAlive, count: int) -> None:
    """Until A holds ``count`` long-polls (its /metrics), so none is answered at once."""
    deadline = time.monotonic() + 30
    while True:
        status, body = await client.request("GET", "/metrics")
        if status != 200:  # noqa: PLR2004
            raise SystemExit(f"bench: GET /metrics answered {status}: {body[:200]!r}")
        for line in body.decode().splitlines():
            if line.startswith("taskmanager_long_poll_waiters ") and int(line.split()[1]) >= count:
                return
        if time.monotonic() > deadline:
            raise SystemExit("bench: the long-polls were never all held")
        await asyncio.sleep(0.005)  # the server reads the requests: nothing to wait on


async def _cancel_latencies(a: Server, b: Server, samples: int) -> list[float]:
    """Run a long task on A, cancel it on B, time until A's worker is idle; again."""
    on_a, on_b, stats = (
        await KeptAlive.open(a.port),
        await KeptAlive.open(b.port),
        await KeptAlive.open(a.port),
    )
    delays: list[float] = []
    try:
        for _ in range(samples):
            task_id = await _submit(on_a, SUBMIT_BODY.encode())
            await _wait_processing(on_a, task_id)
            await _wait_busy(stats, 2, 5)  # A's one worker and B's
            cancelled = await _cancel(on_b, task_id)
            while await _busy(stats) != 1:
                pass  # each poll is a request to A: back to back, no sleep
            delays.append(time.perf_counter() - cancelled)
    finally:
        for client in (on_a, on_b, stats):
            client.close()
    return delays


async def _wait_processing(client: KeptAlive, task_id: str) -> None:
    # Polled, not long-polled: a long-poll sent just after the start would wait for the end.
    deadline = time.monotonic() + 5
    while True:
        status, body = await client.request("GET", f"/tasks/{task_id}")
        if status != 200:  # noqa: PLR2004
            raise SystemExit(f"bench: GET /tasks/{task_id} answered {status}: {body[:200]!r}")
        if json.loads(body)["status"] == "processing":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: task {task_id} never started on replica A")
        await asyncio.sleep(0.001)
