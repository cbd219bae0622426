"""What a task costs Redis: round trips, commands, memory, CPU and network bytes."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass

from bench.harness import Profile, Servers
from bench.redisstats import RedisStats, Snapshot
from bench.report import Report, Row
from bench.sampler import wait_idle
from bench.server import Server
from bench.tasks import submit_many
from bench.wrk import Wrk

WARM_UP_TASKS = 100
ROUND_TRIP_SAMPLE = 2_000  # tasks whose round trips the slow log records
CLIENT = "127.0.0.1"  # the rate limiter's key for the bench's requests
REMOVAL_TTL = 1  # seconds the removal run keeps a finished task


@dataclass(frozen=True)
class Cost:
    """What N tasks cost Redis, through their whole life, on one service."""

    replicas: int
    tasks: int
    before: Snapshot
    after: Snapshot
    limiter_bytes: int
    sampled: int
    round_trips: Counter[str]

    def per_task(self, total: float) -> float:
        """``total`` divided by the tasks."""
        return total / self.tasks

    @property
    def commands(self) -> Counter[str]:
        """Commands Redis executed, those inside scripts too."""
        return self.after.commands - self.before.commands

    @property
    def memory(self) -> int:
        """Bytes Redis holds for the tasks (the limiter's passing window left out)."""
        return self.after.used_memory - self.before.used_memory - self.limiter_bytes


def measure_redis_cost(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:  # noqa: ARG001 - the tasks are submitted by the raw client
    """N compute_sum tasks through their whole life (TIME_SCALE=0), on one replica, then two.

    Redis's counters are read before and after: INFO commandstats for the commands (those
    scripts run too), used_memory for what the finished tasks keep (they stay for the
    result TTL), the event stream's own size, CPU and network bytes. Then a smaller run
    with the slow log on counts the round trips, the commands the replicas sent.
    """
    count = profile.redis_tasks
    with servers.redis() as redis:
        stats = RedisStats(redis.port)
        try:
            costs = [_measure(servers, redis, stats, replicas, count) for replicas in (1, 2)]
            removal = _measure_removal(servers, redis, stats, count)
        finally:
            stats.close()
    for cost in costs:
        _add_traffic_rows(report, cost)
    _add_removal_row(report, removal, costs[0])
    _add_resource_rows(report, costs)


def _measure(servers: Servers, redis: Server, stats: RedisStats, replicas: int, count: int) -> Cost:
    prefix = f"cost{replicas}"
    stream = f"{prefix}:events"
    limiter = f"{prefix}:rl:{CLIENT}"
    with contextlib.ExitStack() as stack:
        group = [
            stack.enter_context(servers.replica(f"cost-{replicas}-{n}", redis, prefix))
            for n in range(replicas)
        ]
        _run_tasks(group, WARM_UP_TASKS, stats, prefix)  # scripts loaded, code paths warm
        limiter_before = stats.client.memory_usage(limiter, samples=0) or 0
        before = stats.snapshot(stream)
        _run_tasks(group, count, stats, prefix)
        after = stats.snapshot(stream)
        limiter_after = stats.client.memory_usage(limiter, samples=0) or 0
        sampled = min(count, ROUND_TRIP_SAMPLE)
        stats.start_counting_round_trips()
        _run_tasks(group, sampled, stats, prefix)
        round_trips = stats.round_trips()
    return Cost(
        replicas=replicas,
        tasks=count,
        before=before,
        after=after,
        limiter_bytes=int(limiter_after) - int(limiter_before),
        sampled=sampled,
        round_trips=round_trips,
    )


def _measure_removal(servers: Servers, redis: Server, stats: RedisStats, count: int) -> Cost:
    """The same tasks on one replica that keeps them a second: their removal counts too."""
    prefix = "removal"
    with servers.replica("cost-removal", redis, prefix, result_ttl=REMOVAL_TTL) as server:
        _run_tasks([server], WARM_UP_TASKS, stats, prefix)
        _wait_removed(stats, prefix)
        before = stats.snapshot(f"{prefix}:events")
        _run_tasks([server], count, stats, prefix)
        _wait_removed(stats, prefix)
        after = stats.snapshot(f"{prefix}:events")
    return Cost(1, count, before, after, 0, 0, Counter())


def _wait_removed(stats: RedisStats, prefix: str) -> None:
    deadline = time.monotonic() + 300
    while stats.members(f"{prefix}:idx:all"):
        if time.monotonic() > deadline:
            raise SystemExit("bench: the finished tasks were not removed in time")
        time.sleep(0.05)  # the janitor's sweep, once a second: nothing to wait on


def _run_tasks(group: list[Server], count: int, stats: RedisStats, prefix: str) -> None:
    """Submit ``count`` tasks, shared among the replicas, and wait until all have ended."""

    async def submit() -> None:
        share = -(-count // len(group))
        await asyncio.gather(*(submit_many(server.port, share, 16) for server in group))

    asyncio.run(submit())
    deadline = time.monotonic() + 300
    while stats.unfinished(prefix):
        if time.monotonic() > deadline:
            raise SystemExit("bench: the replicas did not run their tasks in time")
        time.sleep(0.02)  # another process's progress: nothing to wait on
    for server in group:
        wait_idle(server.pid)  # every replica has read the last events


def _top(counts: Counter[str], tasks: int, how_many: int) -> str:
    return ", ".join(f"{name} {n / tasks:.2f}" for name, n in counts.most_common(how_many))


def _add_traffic_rows(report: Report, cost: Cost) -> None:
    replicas = f"{cost.replicas} replica{'s' if cost.replicas > 1 else ''}"
    trips = sum(cost.round_trips.values()) / cost.sampled
    commands = cost.per_task(sum(cost.commands.values()))
    scripts = sum(n for name, n in cost.round_trips.items() if name.startswith("script"))
    report.figures |= {
        f"redis_round_trips_{cost.replicas}": trips,
        f"redis_commands_{cost.replicas}": commands,
    }
    report.add(
        Row(
            f"Redis round trips per task, {replicas}",
            f"{trips:.1f}",
            note=(
                f"commands the replicas sent for {cost.sampled:,} tasks (slow log), "
                f"{scripts / cost.sampled:.1f} of them scripts: "
                f"{_top(cost.round_trips, cost.sampled, 12)}"
            ),
        )
    )
    report.add(
        Row(
            f"Redis commands per task, {replicas}",
            f"{commands:.1f}",
            note=(
                f"every command Redis ran for {cost.tasks:,} tasks, inside scripts too "
                f"(INFO commandstats): {_top(cost.commands, cost.tasks, 12)}"
            ),
        )
    )


def _add_removal_row(report: Report, removal: Cost, kept: Cost) -> None:
    whole = removal.per_task(sum(removal.commands.values()))
    extra = removal.commands - kept.commands
    report.figures |= {"redis_commands_with_removal": whole}
    report.add(
        Row(
            "Redis commands per task, with its removal",
            f"{whole:.1f}",
            note=(
                f"{removal.tasks:,} tasks on 1 replica that keeps them {REMOVAL_TTL} s, "
                f"until the last is removed; more than kept for the TTL: "
                f"{_top(extra, removal.tasks, 8)}"
            ),
        )
    )


def _add_resource_rows(report: Report, costs: list[Cost]) -> None:
    one = costs[0]
    memory = one.per_task(one.memory)
    stream = one.per_task(one.after.stream_bytes - one.before.stream_bytes)
    report.figures |= {"redis_bytes_per_task": memory, "redis_stream_bytes_per_task": stream}
    report.add(
        Row(
            "Redis memory per finished task",
            f"{memory:,.0f} B",
            note=(
                f"INFO used_memory grew {one.memory / 2**20:.1f} MiB for {one.tasks:,} "
                "completed tasks kept for the result TTL (record, indexes, expiry entry, "
                "events), the rate limiter's window left out"
            ),
        )
    )
    report.add(
        Row(
            "Redis memory per finished task: event stream",
            f"{stream:,.0f} B",
            ratio=f"{stream / memory:.0%}" if memory > 0 else "",
            note=(
                "MEMORY USAGE of the event stream; its share of the above in the ratio "
                "column; it is trimmed to about 100,000 events, so it stops growing"
            ),
        )
    )
    cpu = [cost.per_task(cost.after.cpu_seconds - cost.before.cpu_seconds) for cost in costs]
    net = [cost.per_task(cost.after.net_bytes - cost.before.net_bytes) for cost in costs]
    report.figures |= {"redis_cpu_us_per_task": cpu[0] * 1e6}
    report.add(
        Row(
            "Redis CPU per task, 1 replica",
            f"{cpu[0] * 1e6:.0f} us",
            note=(
                f"so one Redis core would take about {1 / cpu[0]:,.0f} tasks/s; with 2 "
                f"replicas {cpu[1] * 1e6:.0f} us; network in+out per task "
                f"{net[0]:,.0f} B with 1 replica, {net[1]:,.0f} B with 2"
            ),
        )
    )
