"""The Lua scripts alone, on a clock moved by hand: what a replica sees when Redis, the
network or a replica misbehaves between two calls."""

from __future__ import annotations

import uuid

import pytest
from support import FakeClock

from taskmanager.actors.redis.connection import Scripts, connect
from taskmanager.actors.redis.records import pairs

LEASE_US = 5_000_000  # what a heartbeat is good for (half of a 10 s lease)


@pytest.fixture
async def scripts(redis_url):
    prefix = f"s{uuid.uuid4().hex[:10]}"
    redis = connect(redis_url)
    clock = FakeClock()
    yield Scripts(redis, prefix, clock), clock, redis, prefix
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def beat(scripts: Scripts, replica: str, *, register: bool = False) -> int:
    return int(await scripts("heartbeat", replica, LEASE_US, 1, 0, "1" if register else "0"))


async def submit(scripts: Scripts) -> str:
    task_id = str(uuid.uuid4())
    await scripts("submit", task_id, "compute_sum", '{"numbers":[1]}', 0, 0, "", 0, "", "", "", 100)
    return task_id


async def test_after_an_outage_the_first_replica_back_declares_no_other_dead(scripts):
    run, clock, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    await clock.advance(20)  # Redis was away: nobody could renew
    assert await beat(run, "a") == 1
    assert await run("reap", 1_000_000, 600_000_000) == 0
    assert await beat(run, "b") == 1, "b was declared dead"
    # A replica that really died is still noticed, a lease later.
    for _ in range(5):
        await clock.advance(1.25)
        await beat(run, "a")
    assert await run("reap", 1_000_000, 600_000_000) == 1
    assert await redis.zscore(f"{prefix}:replicas", "b") is None


async def test_a_start_sent_twice_gives_the_same_answer(scripts):
    run, _, _, _ = scripts
    await beat(run, "a", register=True)
    task_id = await submit(run)
    claimed = await run("claim", "a")
    assert claimed[0] == "task"
    first = pairs(await run("start", task_id, "a/0/1", "a"))
    again = pairs(await run("start", task_id, "a/0/1", "a"))
    assert first == again
    assert again["status"] == "processing"
    assert again["attempts"] == "1"
    assert not await run("start", task_id, "a/1/1", "a"), "another lease started it too"


async def test_a_rate_check_sent_twice_counts_once(scripts):
    run, _, _, _ = scripts
    first = await run("ratelimit", "client", 2, 60_000_000, "request-1")
    again = await run("ratelimit", "client", 2, 60_000_000, "request-1")
    second = await run("ratelimit", "client", 2, 60_000_000, "request-2")
    third = await run("ratelimit", "client", 2, 60_000_000, "request-3")
    assert [first[0], again[0], second[0], third[0]] == [1, 1, 1, 0]


async def test_what_a_stopped_replica_still_held_is_given_back(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    task_id = await submit(run)
    await run("claim", "a")
    await run("start", task_id, "a/0/1", "a")
    # Replica a stops without handing its task back (its drain failed): its lease is made
    # to have run out, so the next heartbeat of any replica clears what it held.
    await redis.zadd(f"{prefix}:replicas", {"a": 0}, xx=True)
    await beat(run, "b")
    assert await run("reap", 1_000_000, 600_000_000) == 1
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert record["status"] == "failed"
    assert record["etype"] == "worker_lost"
