"""What one POST costs the replicas and Redis as the service grows: 1, 2 and 4 processes.

Each service (``TASKMANAGER_PROCESSES`` = 1, 2, 4; one port, the supervisor's processes
behind it; a key prefix of its own in one redis-server) is driven by the same wrk in
turn, the order rotating each round. The CPU counted runs from wrk's start until every
accepted task has run and the processes are idle again, so a task's whole life is in
it: its submission, its claim, start and finish, and what the other replicas hear of it.
A service whose work per replica does not grow with its size costs the same per POST
at every size; what it may not hide is the share of two cores four processes get.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field

from bench.harness import Profile, Servers
from bench.redisstats import RedisStats
from bench.report import Report, Row
from bench.sampler import cpu_ticks, process_tree, wait_idle
from bench.server import Server
from bench.tasks import SUBMIT_BODY
from bench.wrk import Wrk

SIZES = (1, 2, 4)
TARGET = 1.15  # CPU per POST with 4 processes against one, replicas and Redis alike
DRAIN_SECONDS = 300


@dataclass
class Size:
    """One service of ``processes`` replica processes, and what its runs cost."""

    processes: int
    server: Server
    accepted: list[int] = field(default_factory=list)
    replica_seconds: list[float] = field(default_factory=list)
    redis_seconds: list[float] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        """The service's key prefix."""
        return f"size{self.processes}"

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


def measure_replica_cost(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """Replica and Redis CPU per POST at 1, 2 and 4 processes, and their ratios to one."""
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(servers.redis())
        stats = RedisStats(redis.port)
        stack.callback(stats.close)
        sizes = [
            Size(
                processes,
                stack.enter_context(
                    servers.replica(
                        f"size-{processes}", redis, f"size{processes}", processes=processes
                    )
                ),
            )
            for processes in SIZES
        ]
        for size in sizes:
            if profile.settle:
                wrk.run(size.server.url("/tasks"), profile.warmup, body=SUBMIT_BODY)
            _drain(size, stats, redis)
        for round_index in range(profile.rounds):
            turn = round_index % len(sizes)
            for size in [*sizes[turn:], *sizes[:turn]]:
                _run(size, wrk, profile, stats, redis)
    _add_rows(report, sizes)


def _run(size: Size, wrk: Wrk, profile: Profile, stats: RedisStats, redis: Server) -> None:
    pids = process_tree(size.server.pid)
    before = sum(cpu_ticks(pid) for pid in pids), cpu_ticks(redis.pid)
    run = wrk.run(size.server.url("/tasks"), profile.duration, body=SUBMIT_BODY)
    _drain(size, stats, redis)
    after = sum(cpu_ticks(pid) for pid in pids), cpu_ticks(redis.pid)
    hertz = os.sysconf("SC_CLK_TCK")
    size.accepted.append(run.requests - run.errors)
    size.replica_seconds.append((after[0] - before[0]) / hertz)
    size.redis_seconds.append((after[1] - before[1]) / hertz)


def _drain(size: Size, stats: RedisStats, redis: Server) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while stats.unfinished(size.prefix):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {size.processes} processes did not run their tasks")
        time.sleep(0.05)  # another process's progress: nothing to wait on
    for pid in [*process_tree(size.server.pid), redis.pid]:
        wait_idle(pid)


def _add_rows(report: Report, sizes: list[Size]) -> None:
    one = sizes[0]
    for size in sizes:
        report.figures |= {
            f"replica_cpu_us_per_post_{size.processes}": size.replica_us,
            f"redis_cpu_us_per_post_{size.processes}": size.redis_us,
        }
    for what in ("replica", "Redis"):
        base = one.replica_us if what == "replica" else one.redis_us
        for size in sizes:
            value = size.replica_us if what == "replica" else size.redis_us
            ratio = value / base
            target = size.processes == SIZES[-1]
            report.add(
                Row(
                    f"{what} CPU per POST, Redis, {size.processes} "
                    f"process{'es' if size.processes > 1 else ''}",
                    f"{value:.0f} us",
                    baseline=f"{base:.0f} us" if size is not one else "",
                    ratio=f"{ratio:.2f}x" if size is not one else "",
                    target=f"<= {TARGET:.2f}x" if target else "",
                    passed=ratio <= TARGET if target else None,
                    note=_note(what, size),
                )
            )


def _note(what: str, size: Size) -> str:
    runs = size.replica_seconds if what == "replica" else size.redis_seconds
    per_run = ", ".join(f"{s / n * 1e6:.0f}" for s, n in zip(runs, size.accepted, strict=True))
    whose = "all replica processes (and their supervisor)" if what == "replica" else "Redis"
    return (
        f"CPU of {whose} from wrk's start until the tasks ran, per accepted POST; runs: "
        f"{per_run} us; POSTs accepted: {', '.join(f'{n:,}' for n in size.accepted)}; "
        "bound by what each replica reads of the others' work, and by two cores shared by "
        "wrk, Redis and the processes"
    )
