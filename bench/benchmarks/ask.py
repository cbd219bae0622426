"""The actor runtime's round trip: ``Actor.ask`` to a trivial actor, in this process."""

from __future__ import annotations

import statistics
import time

from bench.client import run_on_uvloop
from bench.harness import Profile, Servers
from bench.report import Report, Row
from bench.wrk import Wrk


def measure_ask(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:  # noqa: ARG001 - no server, no HTTP
    """Round trip of ``Actor.ask`` to a trivial actor, in process, on uvloop as served."""
    from taskmanager.actors.runtime import Actor, Request, Supervisor  # noqa: PLC0415

    class Ping(Request[int]):
        __slots__ = ()

    class Echo(Actor):
        async def receive(self, message: object) -> int:  # noqa: ARG002
            return 1

    async def bench() -> list[float]:
        actor = Echo("echo")
        actor.start(Supervisor())
        ping = Ping()
        batch = max(1000, profile.ask_count // 5)
        timings = []
        try:
            for _ in range(6):  # the first batch warms up and is dropped
                start = time.perf_counter()
                for _ in range(batch):
                    await actor.ask(ping)
                timings.append((time.perf_counter() - start) / batch * 1e6)
        finally:
            await actor.stop()
        return timings[1:]

    micros = statistics.median(run_on_uvloop(bench()))
    report.figures["ask_us"] = micros
    report.add(
        Row(
            "actor ask round trip",
            f"{micros:.1f} us",
            target="< 20 us",
            passed=micros < 20,  # noqa: PLR2004
            note="sequential asks to an actor that replies at once, uvloop; median of 5 batches",
        )
    )
