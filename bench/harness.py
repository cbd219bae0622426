"""What every benchmark is given: how long and how big to measure, and the servers it may start.

A benchmark is one function ``(report, wrk, servers, profile) -> None``: it starts the
servers it needs (``with servers.product("name") as server:``), drives them with ``wrk`` or
the raw client, and adds rows, and raw figures for ``--json``, to the report.
``bench/benchmarks/__init__.py`` lists the benchmarks in the order they run; a new one is a
module there and one line in that list. A benchmark that needs another kind of server
(Redis, a second product process) gets a method on ``Servers``, built on ``bench.server``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import Report
from bench.server import Server, http_ok, python_server, redis_server, taskmanager_server
from bench.wrk import Wrk

PORTS = range(8300, 8400)
RATE_LIMIT = "1000000/second"  # on, checked and recorded per request, but never refusing
MAX_TASKS = 1_000_000
WORKERS = 5  # the product's default; the peers get as many


@dataclass(frozen=True)
class Profile:
    """How long and how big each measurement is."""

    duration: float
    rounds: int
    warmup: float
    longpoll_tasks: int
    list_tasks: int
    ask_count: int
    #: Delayed tasks kept waiting while submissions are measured.
    backlog_tasks: int
    #: Tasks run through their whole life while Redis counts its commands and bytes.
    redis_tasks: int
    #: Samples of each cross-replica latency.
    latency_samples: int
    #: Warm up, and let the servers run what was submitted before the next run (off in
    #: --quick, which only shows that the harness works: its figures are noise anyway).
    settle: bool


FULL = Profile(
    duration=10,
    rounds=3,
    warmup=2,
    longpoll_tasks=10_000,
    list_tasks=100_000,
    ask_count=200_000,
    backlog_tasks=100_000,
    redis_tasks=10_000,
    latency_samples=1_000,
    settle=True,
)
QUICK = Profile(
    duration=1,
    rounds=1,
    warmup=0.3,
    longpoll_tasks=300,
    list_tasks=3_000,
    ask_count=20_000,
    backlog_tasks=2_000,
    redis_tasks=300,
    latency_samples=50,
    settle=False,
)


class Servers:
    """Builds the servers a benchmark measures: each on a free port in 8300-8399.

    Their logs all go to one directory, which ``--keep-logs`` keeps. The servers are not
    started yet: ``with`` one starts it, waits until it answers and stops it afterwards.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def product(self, name: str, **settings: object) -> Server:
        """Task Manager as served in production, its rate limit raised and its store large.

        ``TIME_SCALE=0`` makes every task instant; ``settings`` (``time_scale=0.001``)
        override these defaults.
        """
        defaults: dict[str, object] = {
            "rate_limit": RATE_LIMIT,
            "max_tasks": MAX_TASKS,
            "time_scale": 0,
        }
        return taskmanager_server(
            self.log_dir, ports=PORTS, settings=defaults | settings, name=name
        )

    def replica(self, name: str, redis: Server, prefix: str, **settings: object) -> Server:
        """A product replica keeping its state in ``redis`` under the key prefix ``prefix``.

        Replicas with the same prefix form one service; another prefix is another service
        on the same Redis.
        """
        shared = {"redis_url": f"redis://127.0.0.1:{redis.port}/0", "redis_prefix": prefix}
        return self.product(name, **shared | settings)

    def redis(self, name: str = "redis") -> Server:
        """Debian's redis-server, keeping nothing on disk."""
        return redis_server(self.log_dir, ports=PORTS, name=name)

    def peer(self, name: str, module: str, redis: Server, python: Path) -> Server:
        """A peer's app (``bench.peers``) run by ``python``, enqueueing into ``redis``."""
        env = {"PEER_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0", "PEER_WORKERS": str(WORKERS)}
        return python_server(name, module, self.log_dir, ports=PORTS, env=env, python=python)

    def baseline(self, name: str) -> Server:
        """``bench/baseline.py``, served with the product's uvicorn options.

        It has no ``/healthz`` (it is only what a user would write for the two endpoints),
        so it counts as ready once it serves its OpenAPI document.
        """
        return python_server(
            name, "bench.baseline", self.log_dir, ports=PORTS, probe=http_ok("/openapi.json")
        )


type Benchmark = Callable[[Report, Wrk, Servers, Profile], None]
"""Measure, and add rows to the report; the servers it starts, it stops."""
