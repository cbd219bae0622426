"""What one POST costs the replicas and Redis as the service grows: 1, 2 and 4 processes.

Each service (``TASKMANAGER_PROCESSES`` = 1, 2, 4; one port, the supervisor's processes
behind it; a key prefix of its own in one redis-server) is driven by the same wrk in
turn, the order rotating each round, twice: at a fixed offered rate, the same for every
size and well below what one process takes, and then as fast as it answers. The CPU
counted runs from wrk's start until every accepted task has run and the processes are
idle again, so a task's whole life is in it: its submission, its claim, start and
finish, and what the other replicas hear of it.

The fixed rate is the fair comparison, and the one the target is for: every size has
CPU to spare, so what grows with the processes is work (what each replica does for the
others' tasks, and the smaller batches of a process that gets a quarter of the requests).
At saturation four processes, wrk and Redis share two cores: the switching between them
costs CPU of its own, which says nothing about the work per replica; it is printed too.
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import Profile, Servers
from bench.redisstats import RedisStats
from bench.report import Report, Row
from bench.sampler import cpu_ticks, process_tree, wait_idle
from bench.server import Server, all_running
from bench.tasks import SUBMIT_BODY
from bench.wrk import Wrk, WrkResult

SIZES = (1, 2, 4)
TARGET = 1.15  # CPU per POST with 4 processes against one, replicas and Redis alike
#: POSTs a second offered to every size in the fair comparison: a fraction of what one
#: process takes on this machine (800 to 1,800 a second, with the machine's load).
RATE = 300
#: The rate counts as kept when wrk reached this share of it.
KEPT_SHARE = 0.9
DRAIN_SECONDS = 300


@dataclass
class Runs:
    """What the runs of one size in one way of driving it cost."""

    accepted: list[int] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    replica_seconds: list[float] = field(default_factory=list)
    redis_seconds: list[float] = field(default_factory=list)

    @property
    def replica_us(self) -> float:
        """Replica CPU per accepted POST (all processes), the median over the runs."""
        return statistics.median(
            s / n * 1e6 for s, n in zip(self.replica_seconds, self.accepted, strict=True)
        )

    @property
    def redis_us(self) -> float:
        """Redis CPU per accepted POST, the median over the runs."""
        return statistics.median(
            s / n * 1e6 for s, n in zip(self.redis_seconds, self.accepted, strict=True)
        )


@dataclass
class Size:
    """One service of ``processes`` replica processes, and what its runs cost."""

    processes: int
    server: Server
    paced: Runs = field(default_factory=Runs)
    saturated: Runs = field(default_factory=Runs)

    @property
    def prefix(self) -> str:
        """The service's key prefix."""
        return f"size{self.processes}"


def measure_replica_cost(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """Replica and Redis CPU per POST at 1, 2 and 4 processes, and their ratios to one."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(servers.redis())
        stats = RedisStats(redis.port)
        stack.callback(stats.close)
        services = stack.enter_context(
            all_running(
                *(servers.replica(f"size-{n}", redis, f"size{n}", processes=n) for n in SIZES)
            )
        )
        sizes = [Size(n, server) for n, server in zip(SIZES, services, strict=True)]
        for size in sizes:
            if profile.settle:
                wrk.run(size.server.url("/tasks"), profile.warmup, body=SUBMIT_BODY)
            _drain(size, stats, redis)
        for round_index in range(profile.rounds):
            turn = round_index % len(sizes)
            for size in [*sizes[turn:], *sizes[:turn]]:
                url = size.server.url("/tasks")
                paced = functools.partial(wrk.paced, url, profile.duration, RATE, SUBMIT_BODY)
                _run(size, size.paced, paced, stats, redis)
                saturated = functools.partial(wrk.run, url, profile.duration, body=SUBMIT_BODY)
                _run(size, size.saturated, saturated, stats, redis)
    _add_rows(report, sizes)


def _run(
    size: Size, runs: Runs, drive: Callable[[], WrkResult], stats: RedisStats, redis: Server
) -> None:
    pids = process_tree(size.server.pid)
    before = sum(cpu_ticks(pid) for pid in pids), cpu_ticks(redis.pid)
    run = drive()
    _drain(size, stats, redis)
    after = sum(cpu_ticks(pid) for pid in pids), cpu_ticks(redis.pid)
    hertz = os.sysconf("SC_CLK_TCK")
    runs.accepted.append(run.requests - run.errors)
    runs.rates.append(run.rps)
    runs.replica_seconds.append((after[0] - before[0]) / hertz)
    runs.redis_seconds.append((after[1] - before[1]) / hertz)


def _drain(size: Size, stats: RedisStats, redis: Server) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while stats.unfinished(size.prefix):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {size.processes} processes did not run their tasks")
        time.sleep(0.05)  # another process's progress: nothing to wait on
    for pid in [*process_tree(size.server.pid), redis.pid]:
        wait_idle(pid)


def _add_rows(report: Report, sizes: list[Size]) -> None:
    for size in sizes:
        report.figures |= {
            f"replica_cpu_us_per_post_{size.processes}": size.paced.replica_us,
            f"redis_cpu_us_per_post_{size.processes}": size.paced.redis_us,
            f"replica_cpu_us_per_post_saturated_{size.processes}": size.saturated.replica_us,
            f"redis_cpu_us_per_post_saturated_{size.processes}": size.saturated.redis_us,
        }
    for paced in (True, False):
        for what in ("replica", "Redis"):
            _add_size_rows(report, sizes, what, paced=paced)


def _add_size_rows(report: Report, sizes: list[Size], what: str, *, paced: bool) -> None:
    def cost(size: Size) -> float:
        runs = size.paced if paced else size.saturated
        return runs.replica_us if what == "replica" else runs.redis_us

    one = sizes[0]
    for size in sizes:
        ratio = cost(size) / cost(one)
        target = paced and size.processes == SIZES[-1]
        plural = "es" if size.processes > 1 else ""
        how = f"at {RATE} POST/s" if paced else "saturated"
        report.add(
            Row(
                f"{what} CPU per POST, Redis, {size.processes} process{plural}, {how}",
                f"{cost(size):.0f} us",
                baseline=f"{cost(one):.0f} us" if size is not one else "",
                ratio=f"{ratio:.2f}x" if size is not one else "",
                target=f"<= {TARGET:.2f}x" if target else "",
                passed=ratio <= TARGET if target else None,
                note=_note(what, size, paced=paced),
            )
        )


def _note(what: str, size: Size, *, paced: bool) -> str:
    runs = size.paced if paced else size.saturated
    spent = runs.replica_seconds if what == "replica" else runs.redis_seconds
    per_run = ", ".join(f"{s / n * 1e6:.0f}" for s, n in zip(spent, runs.accepted, strict=True))
    whose = "all replica processes (and their supervisor)" if what == "replica" else "Redis"
    rates = ", ".join(f"{r:,.0f}" for r in runs.rates)
    common = (
        f"CPU of {whose} from wrk's start until the tasks ran, per accepted POST; runs: "
        f"{per_run} us; POSTs accepted: {', '.join(f'{n:,}' for n in runs.accepted)}, "
        f"at {rates} a second"
    )
    if not paced:
        return (
            f"{common}; wrk as fast as the service answers: bound by two cores shared by "
            "wrk, Redis and the processes (switching between them costs CPU too, more "
            "with more processes), as well as by the work each replica does"
        )
    kept = all(r >= KEPT_SHARE * RATE for r in runs.rates)
    return (
        f"{common}; {RATE} a second offered to every size, below what one process takes: "
        "bound by the work each replica does per POST (for its own tasks and the others', "
        "in batches the smaller the more processes share the requests)"
        + ("" if kept else f"; the offered rate was not kept (under {KEPT_SHARE:.0%})")
    )
