"""Thousands of held long-polls: what they cost the server, and how fast they wake."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

from bench.client import read_response, run_on_uvloop
from bench.harness import Profile, Servers
from bench.report import Report, Row, mib, ms, percentile
from bench.sampler import MemorySampler, rss
from bench.server import HOST, Server
from bench.tasks import SUBMIT_BODY, TERMINAL, submit_many, timestamp
from bench.wrk import Wrk


@dataclass
class PollStats:
    """What the long-poll clients saw."""

    in_flight: int = 0
    peak_in_flight: int = 0
    finish_delays: list[float] = field(default_factory=list)
    start_delays: list[float] = field(default_factory=list)
    answered_at_once: int = 0
    failures: int = 0


def measure_long_polls(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """N tasks, one long-poller each, all held, then the tasks complete one after another.

    Tasks take 5 ms each (TIME_SCALE=0.001) on the five workers. Filler tasks queued ahead
    of the polled ones keep the workers busy while the N long-polls are opened, so the
    polls are all held at once before their tasks start; then each wakes when its task
    starts (and re-polls) and when it completes. The delay is the response's arrival
    minus the task's ``started_at``/``finished_at``; both clocks are this machine's.
    """
    count = profile.longpoll_tasks
    scale = 0.001
    per_second = 1 / scale  # five workers, 5 s x scale each
    hold = max(1.0, count / 800)  # time to submit and open the polls, with a margin
    fillers = round(hold * per_second)
    with servers.product("long-poll", time_scale=scale, long_poll_timeout=600) as server:
        wrk.submit(server.url("/tasks"), fillers, SUBMIT_BODY)
        ids = asyncio.run(submit_many(server.port, count))
        stats = PollStats()
        before = rss(server.pid)

        async def poll_all() -> None:
            connects = asyncio.Semaphore(256)
            await asyncio.gather(*(_long_poll(server.port, i, stats, connects) for i in ids))

        with MemorySampler(server.pid, every=0.02) as sampler:
            run_on_uvloop(poll_all())
        growth = sampler.peak - before
    finish = sorted(stats.finish_delays)
    if not finish:
        raise SystemExit("bench: no long-poll saw its task complete")
    p50, p99 = percentile(finish, 50) * 1000, percentile(finish, 99) * 1000
    wakes = sorted(stats.finish_delays + stats.start_delays)
    note = (
        f"{count:,} tasks, {stats.peak_in_flight:,} polls held at once at the peak; "
        f"{len(finish):,} woke on completion, {len(stats.start_delays):,} on start "
        f"(all wake-ups: p50 {ms(percentile(wakes, 50) * 1000)}, "
        f"p99 {ms(percentile(wakes, 99) * 1000)}); {stats.answered_at_once:,} answered at once"
        + (f"; {stats.failures} failed" if stats.failures else "")
    )
    with servers.baseline("long-poll baseline") as baseline:
        floor = run_on_uvloop(_hold_long_polls(baseline, count))
        # Its handlers sleep for ever: uvicorn would wait its whole graceful-shutdown
        # timeout for them, for nothing.
        baseline.stop(grace=0.5)
    note += (
        "; baseline: the same number of ?wait=true requests held by a hand-written FastAPI "
        "endpoint that only sleeps (uvicorn's own cost per connection and request included)"
    )
    report.figures |= {"longpoll_growth": growth, "longpoll_p50_ms": p50, "longpoll_p99_ms": p99}
    report.add(
        Row(
            f"{count:,} long-polls: server memory growth",
            mib(growth),
            baseline=mib(floor),
            ratio=f"{growth / floor:.2f}x" if floor > 0 else "",
            target="< 100 MiB",
            passed=growth < 100 * 2**20 and stats.failures == 0,
            note=note,
        )
    )
    report.add(Row("long-poll wake-up after completion, p50", ms(p50)))
    report.add(
        Row("long-poll wake-up after completion, p99", ms(p99), target="< 100 ms", passed=p99 < 100)  # noqa: PLR2004
    )


async def _long_poll(
    port: int, task_id: str, stats: PollStats, connects: asyncio.Semaphore
) -> None:
    """Hold ``?wait=true`` on one task until it is terminal, re-polling after each change."""
    async with connects:
        reader, writer = await asyncio.open_connection(HOST, port)
    request = f"GET /tasks/{task_id}?wait=true HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    try:
        while True:
            sent = time.time()
            writer.write(request)
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            try:
                status, body = await read_response(reader)
            finally:
                stats.in_flight -= 1
            arrived = time.time()
            if status != 200:  # noqa: PLR2004
                stats.failures += 1
                return
            task = json.loads(body)
            changed_at = task["finished_at"] or task["started_at"]
            moment = timestamp(changed_at) if changed_at else None
            if moment is None or moment < sent:
                stats.answered_at_once += 1  # nothing to wait for: not a wake-up
            elif task["status"] in TERMINAL:
                stats.finish_delays.append(arrived - moment)
            else:
                stats.start_delays.append(arrived - moment)
            if task["status"] in TERMINAL:
                return
    finally:
        writer.close()


async def _hold_long_polls(server: Server, count: int) -> int:
    """Open ``count`` long-polls on the baseline and hold them; the server's peak RSS growth."""
    before = rss(server.pid)
    connects = asyncio.Semaphore(256)
    request = f"GET /tasks/{uuid.uuid4()}?wait=true HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    writers: list[asyncio.StreamWriter] = []

    async def hold() -> None:
        async with connects:
            _, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(request)
        await writer.drain()
        writers.append(writer)

    with MemorySampler(server.pid, every=0.02) as sampler:
        await asyncio.gather(*(hold() for _ in range(count)))
        # Let the server read every request and start every handler.
        await asyncio.sleep(max(0.5, count / 5_000))
    for writer in writers:
        writer.close()
    return sampler.peak - before
