"""Per task on Redis, side by side: Task Manager, FastAPI + SAQ and FastAPI + arq.

Each system gets a fresh redis-server of its own, so that Redis's counters (INFO) hold
nothing but that system's work, and wrk POSTs compute_sum submissions at it while its
workers (in the same process, as many as the product's) run them. A run ends only when
every accepted task has run and the processes are idle again: the Redis figures are
for each task's whole life but its removal (every system keeps a finished task for a
while: the product and SAQ 600 s, arq 3,600 s, longer than the run).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import Profile, Servers
from bench.peers.env import peer_python
from bench.redisstats import RedisStats, Snapshot
from bench.report import Report, Row
from bench.sampler import process_tree, wait_idle
from bench.server import Server
from bench.tasks import SUBMIT_BODY
from bench.wrk import Wrk, WrkResult

PREFIX = "tm"  # the product's own default
LIMITER = f"{PREFIX}:rl:127.0.0.1"  # the rate limiter's window for the bench's requests
DRAIN_SECONDS = 300
#: Targets from the issue that asked for this comparison: the product per task against SAQ.
COMMANDS_TARGET = 25
MEMORY_TARGET = 700


@dataclass
class System:
    """One system on its own Redis, and what its runs added up to."""

    label: str
    server: Server
    redis: Server
    stats: RedisStats
    unfinished: Callable[[], int]
    limiter: str | None = None
    runs: list[WrkResult] = field(default_factory=list)
    tasks: int = 0
    cpu_seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)
    memory: int = 0
    stream: int = 0

    @property
    def rps(self) -> float:
        """The median of the runs' requests per second."""
        return statistics.median(run.rps for run in self.runs)

    @property
    def cpu_us(self) -> float:
        """Redis CPU per task, in microseconds."""
        return self.cpu_seconds / self.tasks * 1e6

    @property
    def commands_per_task(self) -> float:
        """Commands Redis executed per task, those inside scripts too."""
        return sum(self.commands.values()) / self.tasks

    @property
    def bytes_per_task(self) -> float:
        """What Redis keeps per finished task."""
        return self.memory / self.tasks

    def top(self, how_many: int = 8) -> str:
        """The commands that weigh most, per task."""
        return ", ".join(
            f"{name} {n / self.tasks:.1f}" for name, n in self.commands.most_common(how_many)
        )


def measure_peers(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """The three systems, one round each in turn (the order rotating), then the ratios."""
    python = peer_python()
    with contextlib.ExitStack() as stack:
        systems = []
        for label, module in (
            ("Task Manager", None),
            ("FastAPI + SAQ", "bench.peers.saq_app"),
            ("FastAPI + arq", "bench.peers.arq_app"),
        ):
            name = label.split()[-1].lower()
            redis = stack.enter_context(servers.redis(f"redis-{name}"))
            server = stack.enter_context(
                servers.replica(name, redis, PREFIX)
                if module is None
                else servers.peer(name, module, redis, python)
            )
            stats = RedisStats(redis.port)
            stack.callback(stats.close)
            systems.append(_system(label, server, redis, stats))
        for system in systems:
            wrk.run(system.server.url("/tasks"), profile.warmup, body=SUBMIT_BODY)
            _drain(system)
        for round_index in range(profile.rounds):
            turn = round_index % len(systems)
            for system in [*systems[turn:], *systems[:turn]]:
                _run(system, wrk, profile)
    _add_rows(report, *systems)


def _system(label: str, server: Server, redis: Server, stats: RedisStats) -> System:
    if label == "Task Manager":
        return System(label, server, redis, stats, lambda: stats.unfinished(PREFIX), LIMITER)
    if "SAQ" in label:
        # SAQ keeps every queued or active job in this sorted set until it ends.
        return System(label, server, redis, stats, lambda: stats.members("saq:default:incomplete"))
    # arq keeps a job in its queue until the job has run.
    return System(label, server, redis, stats, lambda: stats.members("arq:queue"))


def _run(system: System, wrk: Wrk, profile: Profile) -> None:
    """One wrk run against the system, then until all it accepted has run."""
    before, limiter_before = _snapshot(system)
    run = wrk.run(system.server.url("/tasks"), profile.duration, body=SUBMIT_BODY)
    _drain(system)
    after, limiter_after = _snapshot(system)
    system.runs.append(run)
    system.tasks += run.requests - run.errors
    system.cpu_seconds += after.cpu_seconds - before.cpu_seconds
    system.commands += after.commands - before.commands
    # The product's rate limiter holds a passing window (a second of requests): left out.
    system.memory += after.used_memory - before.used_memory - (limiter_after - limiter_before)
    system.stream += after.stream_bytes - before.stream_bytes


def _snapshot(system: System) -> tuple[Snapshot, int]:
    limiter = 0
    if system.limiter is not None:
        limiter = int(system.stats.client.memory_usage(system.limiter, samples=0) or 0)
    return system.stats.snapshot(f"{PREFIX}:events"), limiter


def _drain(system: System) -> None:
    """Until every accepted task has run and the system's processes are idle."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while system.unfinished():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {system.label} did not run its tasks in time")
        time.sleep(0.05)  # another process's progress: nothing to wait on
    for pid in [*process_tree(system.server.pid), system.redis.pid]:
        wait_idle(pid)


def _add_rows(report: Report, ours: System, saq: System, arq: System) -> None:
    for system, key in ((ours, "tm"), (saq, "saq"), (arq, "arq")):
        report.figures |= {
            f"peers_{key}_post_rps": system.rps,
            f"peers_{key}_redis_cpu_us_per_task": system.cpu_us,
            f"peers_{key}_redis_commands_per_task": system.commands_per_task,
            f"peers_{key}_redis_bytes_per_task": system.bytes_per_task,
        }
    tasks = ", ".join(f"{s.label} {s.tasks:,}" for s in (ours, saq, arq))
    rps_ratio = ours.rps / saq.rps
    report.add(
        Row(
            "POST /tasks requests/s on Redis, against FastAPI + SAQ",
            f"{ours.rps:,.0f}",
            baseline=f"{saq.rps:,.0f}",
            ratio=f"{rps_ratio:.2f}x",
            target=">= 1.00x",
            passed=rps_ratio >= 1,
            note=(
                f"FastAPI + arq {arq.rps:,.0f} ({ours.rps / arq.rps:.2f}x); each on its own "
                f"redis-server, workers running what is accepted; bound by the two cores "
                f"shared by wrk, the server and its Redis; tasks accepted: {tasks}"
            ),
        )
    )
    cpu_ratio = ours.cpu_us / saq.cpu_us
    report.add(
        Row(
            "Redis CPU per task, whole life, against FastAPI + SAQ",
            f"{ours.cpu_us:.0f} us",
            baseline=f"{saq.cpu_us:.0f} us",
            ratio=f"{cpu_ratio:.2f}x",
            target="<= 1.00x",
            passed=cpu_ratio <= 1,
            note=(
                f"FastAPI + arq {arq.cpu_us:.0f} us; INFO used_cpu_user+sys from before the "
                "run until every task ran, divided by the tasks: bound by what each command "
                f"costs Redis; one Redis core would take about {1e6 / ours.cpu_us:,.0f} "
                f"tasks/s of the product, {1e6 / saq.cpu_us:,.0f} of SAQ, "
                f"{1e6 / arq.cpu_us:,.0f} of arq"
            ),
        )
    )
    commands = ours.commands_per_task
    report.add(
        Row(
            "Redis commands per task, whole life, against FastAPI + SAQ",
            f"{commands:.1f}",
            baseline=f"{saq.commands_per_task:.1f}",
            ratio=f"{commands / saq.commands_per_task:.2f}x",
            target=f"<= {COMMANDS_TARGET}",
            passed=commands <= COMMANDS_TARGET,
            note=(
                f"INFO commandstats, those inside scripts too; the product: {ours.top()}; "
                f"SAQ: {saq.top()}; arq {arq.commands_per_task:.1f}: {arq.top()}"
            ),
        )
    )
    memory = ours.bytes_per_task
    report.add(
        Row(
            "Redis memory per finished task, against FastAPI + SAQ",
            f"{memory:,.0f} B",
            baseline=f"{saq.bytes_per_task:,.0f} B",
            ratio=f"{memory / saq.bytes_per_task:.2f}x",
            target=f"<= {MEMORY_TARGET} B",
            passed=memory <= MEMORY_TARGET,
            note=(
                f"INFO used_memory growth over the runs per task, the event stream counted "
                f"(the product's stream: {ours.stream / ours.tasks:,.0f} B of it until it is "
                f"trimmed), its rate limiter's passing window not; FastAPI + arq "
                f"{arq.bytes_per_task:,.0f} B"
            ),
        )
    )
