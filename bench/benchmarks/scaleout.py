"""POST and GET by id on Redis: one process against the in-memory default, two against one."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.harness import Profile, Servers
from bench.report import Report, Row, ms
from bench.sampler import CpuMeter, process_tree, wait_idle
from bench.server import Server, all_running
from bench.tasks import SUBMIT_BODY, queue_depth, submit_task
from bench.wrk import Wrk, WrkResult

ONE_TARGET = 0.5  # one process on Redis against the in-memory default
TWO_TARGET = 1.3  # two processes on Redis against one, on this 2-core machine


@dataclass
class Setup:
    """The servers measured together, and what each run of them measured."""

    label: str
    servers: tuple[Server, ...]
    runs: list[WrkResult] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)
    #: Tasks still queued when each run ended: taken, but not run yet.
    behind: list[int] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The servers' processes: with TASKMANAGER_PROCESSES, a parent and its replicas."""
        return [pid for server in self.servers for pid in process_tree(server.pid)]

    @property
    def rps(self) -> float:
        """The median of the runs' requests per second."""
        return statistics.median(run.rps for run in self.runs)

    def cores(self) -> dict[str, float]:
        """The median CPU share of each party, in cores."""
        return {name: statistics.median(cpu[name] for cpu in self.cpu) for name in self.cpu[0]}


def measure_scale_out(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """The in-memory default, one process on Redis, and two on Redis, in turn.

    Every server runs as in production with TIME_SCALE=0, so its workers run each task
    at once: on Redis every task costs its claim, start and finish, and the event log
    carries them to every replica. Two processes are TASKMANAGER_PROCESSES=2: two
    replicas sharing one port, driven by the same wrk as the others. Each service keeps
    its state under a key prefix of its own in one redis-server. CPU is read from /proc
    during each run.

    For POST a fourth setup shows this machine's ceiling for two processes: two separate
    one-process services (their own prefixes, so neither reads the other's events),
    each driven by one wrk with half the threads and connections.
    """
    with (
        servers.redis() as redis,
        all_running(
            servers.product("memory"),
            servers.replica("redis-1", redis, "one"),
            servers.replica("redis-2", redis, "two", processes=2),
            servers.replica("separate-a", redis, "separate-a"),
            servers.replica("separate-b", redis, "separate-b"),
        ) as (memory, one, two, separate_a, separate_b),
    ):
        for method in ("POST", "GET"):
            memory_run = Setup("in-memory", (memory,))
            one_run = Setup("1 process", (one,))
            two_run = Setup("2 processes", (two,))
            separate = Setup("2 separate services", (separate_a, separate_b))
            setups = [memory_run, one_run, two_run] + ([separate] if method == "POST" else [])
            _alternate(wrk, setups, method, redis, profile)
            _add_row(report, method, one_run, memory_run, ONE_TARGET if method == "POST" else None)
            _add_row(report, method, two_run, one_run, TWO_TARGET if method == "POST" else None)
            if method == "POST":
                _add_row(report, method, separate, one_run, None)


def _alternate(
    wrk: Wrk, setups: Sequence[Setup], method: str, redis: Server, profile: Profile
) -> None:
    """Warm each setup up, then run them in turn, the order rotating each round."""
    body = SUBMIT_BODY if method == "POST" else None
    urls = {}
    for setup in setups:
        path = "/tasks" if body else f"/tasks/{submit_task(setup.servers[0].port)}"
        urls[setup.label] = [server.url(path) for server in setup.servers]
        if profile.settle:
            wrk.run_split(urls[setup.label], profile.warmup, body=body)
            _wait_idle(setup)
    for round_index in range(profile.rounds):
        turn = round_index % len(setups)
        for setup in [*setups[turn:], *setups[:turn]]:
            with CpuMeter({"servers": setup.pids, "redis": [redis.pid]}) as meter:
                setup.runs.append(wrk.run_split(urls[setup.label], profile.duration, body=body))
            setup.cpu.append(meter.shares)
            setup.behind.append(sum(queue_depth(server.port) for server in setup.servers))
            if profile.settle:
                _wait_idle(setup)


def _wait_idle(setup: Setup) -> None:
    """Until every server of the setup has run what was submitted."""
    for pid in setup.pids:
        wait_idle(pid)


def _add_row(
    report: Report, method: str, measured: Setup, against: Setup, target: float | None
) -> None:
    label = "POST /tasks" if method == "POST" else "GET /tasks/{id}"
    ratio = measured.rps / against.rps
    errors = sum(run.errors for run in [*measured.runs, *against.runs])
    rounds = ", ".join(
        f"{m.rps:,.0f}/{a.rps:,.0f}" for m, a in zip(measured.runs, against.runs, strict=True)
    )
    key = f"{method.lower()}_redis_{measured.label.replace(' ', '_')}"
    report.figures |= {f"{key}_rps": measured.rps, f"{key}_ratio": ratio}
    report.add(
        Row(
            f"{label} requests/s, Redis, {measured.label}",
            f"{measured.rps:,.0f}",
            baseline=f"{against.rps:,.0f}",
            ratio=f"{ratio:.2f}x",
            target=f">= {target:.2f}x" if target is not None else "",
            passed=None if target is None else ratio >= target and errors == 0,
            note=(
                f"baseline: {against.label}; rounds: {rounds}; p50/p99 "
                f"{_latency(measured)} against {_latency(against)}; CPU in cores: "
                f"{_cores(measured)} against {_cores(against)}"
                + (
                    f"; tasks still queued when wrk stopped: {_behind(measured)} against "
                    f"{_behind(against)}"
                    if method == "POST"
                    else ""
                )
                + (f"; {errors} failed requests" if errors else "")
            ),
        )
    )


def _latency(setup: Setup) -> str:
    p50 = statistics.median(run.p50_ms for run in setup.runs)
    p99 = statistics.median(run.p99_ms for run in setup.runs)
    return f"{ms(p50)}/{ms(p99)}"


def _behind(setup: Setup) -> str:
    return f"{statistics.median(setup.behind):,.0f}"


def _cores(setup: Setup) -> str:
    cores = setup.cores()
    parts = ", ".join(
        f"{name} {cores[name]:.2f}" for name in ("servers", "redis", "client", "others")
    )
    return f"({parts}; machine {cores['machine']:.2f})"
