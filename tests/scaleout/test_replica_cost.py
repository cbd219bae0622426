"""What a task costs the replicas that do not run it, and the one that does: each replica's
share of Redis grows with its own work, not with the service's."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_sync
from conftest import REDIS_PORTS
from support import settle, submit, sum_of

from bench.server import redis_server
from taskmanager.actors.redis.connection import Scripts, connect
from taskmanager.actors.redis.queue import RedisQueue
from taskmanager.actors.redis.store import IsArmed


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A redis-server of the test's own: its counters count this test's replicas alone."""
    with redis_server(tmp_path, ports=REDIS_PORTS) as server:
        yield f"redis://127.0.0.1:{server.port}/0"


def claims(redis_url: str) -> int:
    """Claims that looked at the ready tasks (each pops from them once, found or not, with
    no delayed task to make ready)."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get("cmdstat_zpopmin", {}).get("calls", 0))


async def test_a_worker_that_frees_while_others_wait_for_work_claims_nothing(
    make_client, redis_url
):
    """Tasks submitted one at a time to replicas whose workers all wait for work.

    A task costs its replica one claim that takes it, and one that finds the queue empty
    for its other idle workers (then they wait for the doorbell); the worker that ran it
    goes back to waiting without looking again, as do the replicas that took nothing.
    """
    # Instant tasks on a clock that stands still: no timer looks at the queue.
    replicas = [await make_client(workers=3, time_scale=0) for _ in range(3)]
    await settle()
    before = claims(redis_url)
    tasks = 12
    for number in range(tasks):
        task_id = await submit(replicas[number % 3], sum_of(number))
        await settle()
        status = (await replicas[0].get(f"/tasks/{task_id}")).json()["status"]
        assert status == "completed"
    assert claims(redis_url) - before == 2 * tasks


async def test_a_replica_claiming_for_one_of_its_idle_workers_still_takes_what_comes(
    make_client, clock, redis_url
):
    """While it claims a task for one of several idle workers, the others stay idle: the
    replica is still the one to wake, so what is submitted to it meanwhile does not ring
    the doorbell for another replica (which would claim, and mostly find nothing)."""
    replica = await make_client(workers=3, time_scale=0)
    await settle()
    system = replica.app.state.system
    doorbell = next(actor for actor in system.actors if actor.name == "doorbell")
    prefix = system.settings.redis_prefix
    redis = connect(redis_url)
    scripts = Scripts(redis, prefix, clock)
    # A task waits, put there without a ring (as a submission to an armed replica is).
    await scripts(
        "submit", uuid.uuid4(), "compute_sum", '{"numbers":[1]}', 0, 0, "", 0, "", "", "", 100, "1"
    )
    # The replica's dispatcher claims it for one of its three idle workers.
    queue = RedisQueue(redis, scripts, prefix, system.replica, doorbell)
    claiming = asyncio.create_task(queue.take(clock.now().timestamp(), last=False))
    await asyncio.sleep(0)  # the claim is on its way
    assert await doorbell.ask(IsArmed()), "a submission here would ring for another replica"
    assert await claiming is not None
    await redis.aclose()


def claimants(redis_url: str) -> list[str]:
    """The replicas that claimed since the slow log began logging everything, in order."""
    client = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = client.execute_command("SLOWLOG", "GET", "-1")
    finally:
        client.close()
    found = []
    for entry in reversed(entries):
        args = entry[3]
        # A claim names the replica, then a lease of the replica's name.
        named = [r for r, lease in itertools.pairwise(args[5:]) if lease.startswith(f"{r}/")]
        if args[0].upper() == "FCALL" and named:
            found.append(named[0])
    return found


async def test_tasks_submitted_to_a_replica_with_idle_workers_wake_no_other(make_client, redis_url):
    """While it claims one for one of its idle workers, the others are still idle: what is
    submitted to it meanwhile is for it too, and no other replica is rung for it."""
    a = await make_client(workers=10, time_scale=0)
    await make_client(workers=10, time_scale=0)
    await settle()
    client = redis_sync.Redis.from_url(redis_url)
    client.config_set("slowlog-max-len", 10_000)
    client.config_set("slowlog-log-slower-than", 0)
    client.close()
    for _ in range(10):
        await asyncio.gather(*(submit(a, sum_of(n)) for n in range(5)))
        await settle()
    assert len(set(claimants(redis_url))) == 1
