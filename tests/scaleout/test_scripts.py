"""The Lua scripts alone, on a clock moved by hand: what a replica sees when Redis, the
network or a replica misbehaves between two calls."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from conftest import REDIS_PORTS
from redis.asyncio import Redis
from support import FakeClock

from bench.server import redis_server
from taskmanager.actors.redis.connection import Scripts, connect
from taskmanager.actors.redis.records import pairs, task_from

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


async def test_a_claimed_task_takes_reports_from_its_lease_only(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    task_id = await submit(run)
    assert (await run("claim", "a", "a/1"))[0] == "task"
    args = ("1", "", "", "0", 1_000_000, 600_000_000, "0")
    assert not await run("progress", task_id, "a/2", "0.5")
    assert not await run("finish", task_id, "a/2", *args), "another lease finished it"
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert record["status"] == "processing"
    assert "progress" not in record  # at 0
    assert await run("finish", task_id, "a/1", *args) == "completed"


async def test_a_claim_starts_the_task_under_the_lease_it_brings(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    task_id = await submit(run)
    reply = await run("claim", "a", "a/1")
    assert reply[0] == "task"
    handed = pairs(reply[1:])
    assert handed["id"] == task_id
    assert (handed["status"], handed["lease"], handed["attempts"]) == ("processing", "a/1", "1")
    # The task the worker gets is the one the record now holds.
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert task_from(handed) == task_from(record, task_id=task_id)
    # What the replica runs is where the reaper looks, should it die now.
    assert await redis.smembers(f"{prefix}:running:a") == {task_id}
    done = await run("finish", task_id, "a/1", "1", "", "", "0", 1_000_000, 600_000_000, "0")
    assert done == "completed"


async def test_a_retry_is_handed_to_its_worker_as_a_fresh_attempt(scripts):
    """The claim's reply is the record as it was, then the start's fields: a field the
    start empties (the first attempt's progress) reads as the start left it."""
    run, clock, redis, prefix = scripts
    await beat(run, "a", register=True)
    task_id = str(uuid.uuid4())
    await run("submit", *submission(task_id, max_retries=1))
    await run("claim", "a", "a/1")
    await run("progress", task_id, "a/1", "0.5")
    await run("finish", task_id, "a/1", "", "crash", "boom", "1", 1_000_000, 1_000_000, "0")
    await clock.advance(2)
    claimed = await run("claim", "a", "a/2", "0", "1")
    handed = task_from(pairs(claimed[1:]))
    assert (handed.progress, handed.attempts, handed.finished_at) == (0.0, 2, None)
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert handed == task_from(record, task_id=task_id)


@pytest.fixture
async def alone(tmp_path):
    """The scripts on a redis-server of the test's own: its counters count them alone."""
    with redis_server(tmp_path, ports=REDIS_PORTS) as server:
        redis = connect(f"redis://127.0.0.1:{server.port}/0")
        clock = FakeClock()
        run = Scripts(redis, "cost", clock)
        await beat(run, "a", register=True)
        yield run, redis, clock
        await redis.aclose()


async def whole_life(
    run: Scripts, number: int, params: str = '{"numbers":[1]}', rate: tuple[object, ...] = ()
) -> str:
    """Submission (counted against ``rate``, if given), claim (which starts the attempt)
    and finish of one task; its id."""
    task_id = str(uuid.uuid4())
    submission = (task_id, "compute_sum", params, 0, 0, "", 0, "", "", "", 10**6)
    if rate:
        submission = (*submission, "0", "", "", 0, *rate)
    assert (await run("submit", *submission))[0] == "created"
    assert (await run("claim", "a", f"a/{number}"))[0] == "task"
    args = ("1", "", "", "0", 1_000_000, 600_000_000, "0")
    assert await run("finish", task_id, f"a/{number}", *args) == "completed"
    return task_id


async def redis_commands(redis: Redis) -> int:
    """Commands Redis ran since its counters were reset, those in scripts too (the
    test's own, the reset and the reading, left out)."""
    stats = await redis.info("commandstats")
    ours = {"cmdstat_info", "cmdstat_config|resetstat"}
    return sum(entry["calls"] for name, entry in stats.items() if name not in ours)


async def test_a_tasks_whole_life_takes_at_most_29_redis_commands(alone):
    """Submission (the rate check in it), claim and finish, every command inside the
    scripts counted, for a task submitted alone.

    A finished record keeps its lease field, empty: removing it was a command more."""
    run, redis, _ = alone

    async def checked_life(number: int) -> None:
        await whole_life(run, number, rate=("client", 1000, 60_000_000, f"r{number}"))

    await checked_life(0)  # scripts loaded, keys made
    await redis.config_resetstat()
    for number in range(1, 11):
        await checked_life(number)
    commands = await redis_commands(redis)
    assert commands / 10 <= 29, commands / 10


def submission(task_id: str, *, rate: tuple[object, ...] = (), **fields: object) -> list[object]:
    """The submit script's arguments for a compute_sum task, ``fields`` (by name) changed."""
    names = ["id", "type", "params", "priority", "delay", "timeout", "max_retries", "owner"]
    names += ["idem", "fp", "max_tasks", "here", "deps", "viewer", "ttl"]
    values = dict.fromkeys(names, "")
    values |= {"id": task_id, "type": "compute_sum", "params": '{"numbers":[1]}'}
    values |= {"priority": 0, "delay": 0, "max_retries": 0, "max_tasks": 10**6, "here": "0"}
    values |= {"ttl": 1_000_000} | fields
    return [values[name] for name in names] + list(rate)


async def test_tasks_submitted_together_take_at_most_25_redis_commands_each_removal_included(
    alone,
):
    """What a replica has at hand goes in one submit call: the rate window's upkeep, the
    index and queue writes, the sequence numbers and the call are shared by its tasks.
    Counted through claim, finish and removal once the result TTL (1 s) has passed."""
    run, redis, clock = alone

    async def lives(count: int) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        rate = ("client", 1000, 60_000_000)
        replies = await asyncio.gather(
            *(run("submit", *submission(i, rate=(*rate, f"r{i}"))) for i in ids)
        )
        assert [reply[0] for reply in replies] == ["created"] * count
        assert [reply[-2] for reply in replies] == [replies[0][-2] + n for n in range(count)]
        for task_id in ids:
            assert (await run("claim", "a", f"a/{task_id}"))[0] == "task"
            args = ("1", "", "", "0", 1_000_000, 1_000_000, "0")
            assert await run("finish", task_id, f"a/{task_id}", *args) == "completed"
        await clock.advance(2)
        assert await run("sweep", 500, 5) == count
        return ids

    await lives(1)  # scripts loaded, keys made
    await redis.config_resetstat()
    ids = await lives(10)
    commands = await redis_commands(redis)
    assert not await redis.exists(*(f"cost:task:{i}" for i in ids))
    assert await redis.zcard("cost:idx:all") == 0
    assert commands / 10 <= 25, commands / 10


async def test_submissions_in_one_call_are_each_answered_as_if_alone(scripts):
    """One call with every kind of answer: each item gets its own, and the tasks it
    made are as they would have been, a dependency made earlier in the call included."""
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    rate = ("client", 4, 60_000_000)
    first, second, waiting, unknown, over = (str(uuid.uuid4()) for _ in range(5))
    kept = str(uuid.uuid4())
    await run("submit", *submission(kept, owner="alice", idem="k", fp="f1"))
    replies = await asyncio.gather(
        run("submit", *submission(first, rate=(*rate, "r1"))),
        run("submit", *submission(second, rate=(*rate, "r2"), priority=5, delay=1_000_000)),
        run("submit", *submission(str(uuid.uuid4()), owner="alice", idem="k", fp="f1")),
        run("submit", *submission(str(uuid.uuid4()), owner="alice", idem="k", fp="f2")),
        run("submit", *submission(waiting, deps=first, rate=(*rate, "r3"))),
        run("submit", *submission(unknown, deps=str(uuid.uuid4()), rate=(*rate, "r4"))),
        run("submit", *submission(over, rate=(*rate, "r5"))),
    )
    created, delayed, replayed, reused, record, missing, limited = replies
    assert (created[0], created[-2]) == ("created", 1)
    assert (delayed[0], delayed[-2]) == ("created", 2)
    assert int(delayed[3]) - int(delayed[2]) == 1_000_000  # runs a second after creation
    assert replayed == ["replayed", kept]
    assert reused == ["reused", kept]
    assert (record[0], pairs(record[1])["waitf"], record[-2]) == ("record", first, 3)
    assert (missing[0], missing[-2]) == ("unknown", 4)
    assert limited == ["limited", 4, "60000000"]  # the window is full: nothing made
    assert [reply[-1] for reply in (created, delayed, record, missing)] == ["60000000"] * 4
    assert not await redis.exists(f"{prefix}:task:{unknown}", f"{prefix}:task:{over}")
    assert await redis.zrange(f"{prefix}:ready", 0, -1) == [kept, first]
    assert await redis.zrange(f"{prefix}:delayed", 0, -1) == [second]
    queued = await redis.zrange(f"{prefix}:idx:queued", 0, -1)
    assert queued == [kept, first, second, waiting]  # in submission order
    assert await redis.smembers(f"{prefix}:dependants:{first}") == {waiting}
    # The first one's completion queues the one waiting for it.
    claimed = await run("claim", "a", "a/1")
    assert pairs(claimed[1:])["id"] == kept
    claimed = await run("claim", "a", "a/2")
    assert pairs(claimed[1:])["id"] == first
    await run("finish", first, "a/2", "1", "", "", "0", 1_000_000, 1_000_000, "0")
    assert await redis.zrange(f"{prefix}:ready", 0, -1) == [waiting]


async def test_a_finished_task_keeps_at_most_1800_bytes_in_redis(alone):
    """Record, indexes, expiry order and events of a task kept for its result TTL (with
    parameters of 0 to 31 numbers)."""
    run, redis, _ = alone
    await whole_life(run, 0)  # the keys exist: what follows is the tasks' own size
    before = (await redis.info("memory"))["used_memory"]
    tasks = 1000
    for number in range(1, tasks + 1):
        # Records of many sizes: the allocator's size classes do not decide the figure.
        params = json.dumps({"numbers": list(range(number % 32))})
        await whole_life(run, number, params)
    grown = (await redis.info("memory"))["used_memory"] - before
    assert grown / tasks <= 1800, grown / tasks


async def test_a_claim_for_the_last_idle_worker_of_a_replica_rings_the_doorbell_for_others(
    scripts,
):
    run, _, redis, prefix = scripts
    marker = f"{prefix}:marker"
    await beat(run, "a", register=True)
    low = await submit(run)
    high = str(uuid.uuid4())
    await run("submit", high, "compute_sum", '{"numbers":[1]}', 5, 0, "", 0, "", "", "", 100)
    third = await submit(run)
    await redis.delete(marker)  # as the idle replica woken by the submissions would
    taken = []
    # A replica that has idle workers left claims again itself: nobody else is woken.
    # One whose last idle worker it was leaves what stays ready to the blocked others.
    for number, (last, rings) in enumerate([("0", 0), ("1", 1), ("0", 0)]):
        claimed = await run("claim", "a", f"a/{number}", last, "0")
        taken.append(pairs(claimed[1:])["id"])
        assert await redis.exists(marker) == rings
        await redis.delete(marker)
    assert taken == [high, low, third]  # priority first, then submission order
    assert await redis.zcard(f"{prefix}:ready") == 0
    assert (await run("claim", "a", "a/3", "1", "0"))[0] == "none"
    assert await redis.exists(marker) == 0  # nothing taken: nothing to ring for


async def test_a_due_delayed_task_is_made_ready_when_asked_or_when_nothing_else_is(
    scripts,
):
    run, now, redis, prefix = scripts
    await beat(run, "a", register=True)
    delayed = str(uuid.uuid4())
    await run(
        "submit", delayed, "compute_sum", '{"numbers":[1]}', 9, 1_000_000, "", 0, "", "", "", 100
    )
    ready = await submit(run)
    await now.advance(2)  # the delayed task is due, and outranks the ready one
    claimed = await run("claim", "a", "a/1", "0", "1")
    assert pairs(claimed[1:])["id"] == delayed  # the caller asked: it is looked at first
    other = str(uuid.uuid4())
    await run(
        "submit", other, "compute_sum", '{"numbers":[1]}', 9, 1_000_000, "", 0, "", "", "", 100
    )
    await now.advance(2)
    claimed = await run("claim", "a", "a/2", "0", "0")
    assert pairs(claimed[1:])["id"] == ready  # not asked, and something was ready
    claimed = await run("claim", "a", "a/3", "0", "0")
    assert pairs(claimed[1:])["id"] == other  # nothing else ready: looked at anyway
    assert await redis.zcard(f"{prefix}:delayed") == 0


async def test_a_rate_check_sent_twice_counts_once(scripts):
    run, _, _, _ = scripts
    first = await run("ratelimit", "client", 2, 60_000_000, "request-1")
    again = await run("ratelimit", "client", 2, 60_000_000, "request-1")
    second = await run("ratelimit", "client", 2, 60_000_000, "request-2")
    third = await run("ratelimit", "client", 2, 60_000_000, "request-3")
    # Sent again once the window is full: it was counted, and allowed, already.
    second_again = await run("ratelimit", "client", 2, 60_000_000, "request-2")
    assert [first[0], again[0], second[0], third[0], second_again[0]] == [1, 1, 1, 0, 1]
    assert [again[1], second_again[1]] == [1, 2]


async def test_a_counted_submission_sent_again_makes_one_task_and_counts_once(scripts):
    """redis-py sends a script again after a dropped connection: same task, same entry."""
    run, clock, redis, prefix = scripts

    def submission(task_id: str, request: str) -> tuple[object, ...]:
        task = (task_id, "compute_sum", '{"numbers":[1]}', 0, 0, "", 0, "", "", "", 100, "0")
        return (*task, "", "", 0, "client", 2, 60_000_000, request)

    first_id = str(uuid.uuid4())
    first = await run("submit", *submission(first_id, "request-1"))
    await clock.advance(10)
    again = await run("submit", *submission(first_id, "request-1"))
    assert first[0] == again[0] == "created"
    assert first[-2:] == [1, "60000000"]
    assert again[-2:] == [1, "50000000"]  # counted once, ten seconds ago
    assert (await run("ratelimit", "client", 2, 60_000_000, "request-2"))[:2] == [1, 2]
    # The window is full: sent again, the first still answers; a new one is refused.
    assert (await run("submit", *submission(first_id, "request-1")))[0] == "created"
    refused_id = str(uuid.uuid4())
    refused = await run("submit", *submission(refused_id, "request-3"))
    assert refused == ["limited", 2, "50000000"]
    assert not await redis.exists(f"{prefix}:task:{refused_id}")


async def test_what_a_stopped_replica_still_held_is_given_back(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    task_id = await submit(run)
    await run("claim", "a", "a/1")
    # Replica a stops without handing its task back (its drain failed): its lease is made
    # to have run out, so the next heartbeat of any replica clears what it held.
    await redis.zadd(f"{prefix}:replicas", {"a": 0}, xx=True)
    await beat(run, "b")
    assert await run("reap", 1_000_000, 600_000_000) == 1
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert record["status"] == "failed"
    assert record["etype"] == "worker_lost"


async def where_is(redis, prefix: str, task_id: str) -> set[str]:
    """The queue indexes that hold the task (a queued task in none of them never runs)."""
    found = set()
    for index in ("ready", "delayed"):
        if await redis.zscore(f"{prefix}:{index}", task_id) is not None:
            found.add(index)
    return found


async def test_a_task_not_due_on_a_clock_stepped_back_is_neither_claimed_nor_lost(scripts):
    run, clock, redis, prefix = scripts
    await clock.advance(100)
    await beat(run, "a", register=True)
    task_id = await submit(run)  # due at once: ready
    clock._now -= 10  # the clock steps back before a worker is free
    assert (await run("claim", "a", "a/1"))[0] == "none"
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert record["status"] == "queued"
    assert await where_is(redis, prefix, task_id) == {"delayed"}, "not waiting for its run_at"
    await clock.advance(10)
    claimed = await run("claim", "a", "a/2")
    assert claimed[0] == "task"
    assert pairs(claimed[1:])["status"] == "processing"


async def test_a_replica_declared_dead_claims_and_starts_nothing_until_it_is_back(scripts):
    run, clock, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    for _ in range(5):  # a is silent (paused) for longer than its lease
        await clock.advance(1.25)
        await beat(run, "b")
    assert await run("reap", 1_000_000, 600_000_000) == 1
    task_id = await submit(run)
    # a does not know yet: its claim is refused.
    assert (await run("claim", "a", "a/1"))[0] == "none"
    # Had it been taken, a dying now would leave the task processing forever: the
    # reaper only looks at registered replicas.
    assert (await redis.hgetall(f"{prefix}:task:{task_id}"))["status"] == "queued"
    assert await beat(run, "a") == 0, "a must learn that it was declared dead"
    claimed = await run("claim", "b", "b/1")
    assert claimed[0] == "task"
    assert pairs(claimed[1:])["status"] == "processing"


async def test_a_replica_that_registers_again_claims_again(scripts):
    run, clock, _, _ = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    for _ in range(5):
        await clock.advance(1.25)
        await beat(run, "b")
    await run("reap", 1_000_000, 600_000_000)
    await submit(run)
    assert await beat(run, "a") == 0
    assert await beat(run, "a", register=True) == 1
    assert (await run("claim", "a", "a/1"))[0] == "task"


async def test_a_replica_cannot_release_a_task_another_replica_runs(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    task_id = await submit(run)
    await run("claim", "b", "b/0/1")
    assert not await run("release", task_id, "b/0/1", "a")
    record = await redis.hgetall(f"{prefix}:task:{task_id}")
    assert record["status"] == "processing"
    assert record["lease"] == "b/0/1"
    assert await redis.sismember(f"{prefix}:running:b", task_id)


async def test_retries_the_reaper_schedules_get_jitter_like_any_other(scripts):
    run, _, redis, prefix = scripts
    backoff_us = 1_000_000
    await beat(run, "a", register=True)
    tasks = [str(uuid.uuid4()) for _ in range(8)]
    for number, task_id in enumerate(tasks):
        await run("submit", task_id, "compute_sum", '{"numbers":[1]}', 0, 0, "", 3, "", "", "", 100)
        await run("claim", "a", f"a/{number}/1")
    await redis.zadd(f"{prefix}:replicas", {"a": 0}, xx=True)  # it died
    # The caller's random seed and the largest jitter (the store draws a seed every time).
    assert await run("reap", backoff_us, 600_000_000, 12345, 0.1) == 1
    now_us = int(run.now())
    waits = []
    for task_id in tasks:
        record = await redis.hgetall(f"{prefix}:task:{task_id}")
        assert record["status"] == "queued"
        assert record["etype"] == "worker_lost"
        waits.append(int(record["run_at"]) - now_us)
    # Retry 1 waits the backoff plus 0 to 10 % of it, drawn for each task: tasks of one
    # dead replica do not all come back in the same instant.
    assert all(backoff_us <= wait <= backoff_us * 1.1 for wait in waits), waits
    assert len(set(waits)) > 1, "every reaped retry waits exactly the same: no jitter"


async def test_a_tasks_events_keep_what_changed_not_the_record(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)

    async def whole_life() -> None:
        task_id = await submit(run)
        assert (await run("claim", "a", "a/0/1"))[0] == "task"
        await run("finish", task_id, "a/0/1", "1", "", "", "0", 1_000_000, 600_000_000, "0")

    await whole_life()  # the stream exists: what follows is the events' own size
    before = await redis.memory_usage(f"{prefix}:events", samples=0)
    tasks = 90  # the store takes 100
    for _ in range(tasks):
        await whole_life()
    grown = await redis.memory_usage(f"{prefix}:events", samples=0) - before
    # Three events a task (submitted, started, completed): a copy of the record in each
    # took about 850 B; the changes alone, with their kinds, ids and names spelt out, 310 B.
    assert grown / tasks < 250, grown / tasks


async def test_a_paused_queue_starts_nothing_and_keeps_the_task_at_its_place(scripts):
    run, _, redis, prefix = scripts
    await beat(run, "a", register=True)
    task_id = await submit(run)
    await run("pause", "1")
    assert await run("claim", "a", "a/1") == ["none", ""]  # paused: nothing is handed out
    await beat(run, "a")
    assert await run("claim", "a", "a/1") == ["none", ""]  # a heartbeat keeps it paused
    await beat(run, "b", register=True)
    assert await run("claim", "b", "b/1") == ["none", ""]  # and so does a new replica
    assert (await redis.hgetall(f"{prefix}:task:{task_id}"))["status"] == "queued"
    assert await where_is(redis, prefix, task_id) == {"ready"}
    await run("pause", "0")
    claimed = await run("claim", "a", "a/2")
    assert pairs(claimed[1:])["id"] == task_id  # still in the queue, not lost


async def test_a_fire_sent_twice_makes_one_task(scripts):
    run, _, redis, prefix = scripts
    fields = ["type", "compute_sum", "params", '{"numbers":[1]}', "priority", "0"]
    fields += ["delay_us", "0", "timeout", "", "max_retries", "0", "every", "60", "cron", ""]
    fields += ["tz", ""]
    await run("schedule_put", "tick", "", "", 0, 60_000_000, 1000, *fields)
    task_id = str(uuid.uuid4())
    args = ("tick", "60000000", "1", "120000000", task_id, 100)
    assert await run("fire", *args) == ["created", task_id]
    assert await run("fire", *args) == ["created", task_id]  # the same fire, sent again
    other = ("tick", "60000000", "1", "120000000", str(uuid.uuid4()), 100)
    assert await run("fire", *other) == ["taken"]  # another replica, too late
    assert await redis.zcard(f"{prefix}:idx:all") == 1
    assert await redis.hget(f"{prefix}:task:{task_id}", "schedule") == "tick"


async def test_finished_tasks_go_once_their_ttl_passed_those_kept_before_the_list_too(scripts):
    run, clock, redis, prefix = scripts
    await beat(run, "a", register=True)
    ttl_us = 10_000_000

    async def finished(lease: str) -> str:
        task_id = await submit(run)
        await run("claim", "a", lease)
        await run("finish", task_id, lease, "1", "", "", "0", 1_000_000, ttl_us, "0")
        return task_id

    # A task that ended under an earlier version: its removal time in a sorted set.
    earlier = await finished("a/0")
    await redis.delete(f"{prefix}:expiring")
    await redis.zadd(f"{prefix}:idx:expiry", {earlier: int(run.now()) + 5_000_000})
    ended = []
    for number in range(1, 4):  # they end at 0, 1 and 2 s: due at 10, 11 and 12 s
        ended.append(await finished(f"a/{number}"))
        await clock.advance(1)
    assert await run("sweep", 100, 10) == 0  # none is due yet
    await clock.advance(2)
    assert await run("sweep", 100, 10) == 1
    assert not await redis.exists(f"{prefix}:task:{earlier}")
    await clock.advance(6)  # 11 s: the first two are due, the third is not
    assert await run("sweep", 100, 10) == 2
    kept = [task_id for task_id in ended if await redis.exists(f"{prefix}:task:{task_id}")]
    assert kept == ended[2:]
    await clock.advance(1)
    assert await run("sweep", 100, 10) == 1
    assert await redis.zcard(f"{prefix}:idx:all") == 0


async def test_a_task_an_earlier_version_claimed_goes_back_when_its_replica_dies(scripts):
    """Replicas of an earlier version held a task between its claim and its start."""
    run, _, redis, prefix = scripts
    await beat(run, "old", register=True)
    task_id = await submit(run)
    await redis.zrem(f"{prefix}:ready", task_id)  # taken by the earlier claim script
    await redis.zadd(f"{prefix}:claimed:old", {task_id: 0})
    await redis.zadd(f"{prefix}:replicas", {"old": 0}, xx=True)  # it died before the start
    assert await run("reap", 1_000_000, 600_000_000) == 1
    assert await where_is(redis, prefix, task_id) == {"ready"}
    assert not await redis.exists(f"{prefix}:claimed:old")


async def test_completions_per_minute_fold_into_the_total_once_out_of_the_window(alone):
    run, redis, _ = alone
    await whole_life(run, 1)
    minute = int(run.now()) // 60_000_000
    assert await redis.hget("cost:stats", f"done:{minute}") == "1"
    await run._clock.advance(60 * 11)  # the scripts. own fake clock
    await run("sweep", 100, 10)
    stats = await redis.hgetall("cost:stats")
    assert not [field for field in stats if field.startswith("done:")]
    assert stats["finished:completed"] == "1"


def idle_fields(record: dict[str, str]) -> dict[str, str]:
    """The fields of a record that say nothing: empty, at their default, or a run_at that
    is the creation time (a reader takes each of those from its absence). A finished
    record's lease is the one left empty, not removed: a command less per task."""
    defaults = {"progress": "0", "attempts": "0", "priority": "0", "max_retries": "0"}
    defaults["run_at"] = record.get("created", "")
    kept = {"lease"} if record.get("status") in {"completed", "failed"} else set()
    return {
        name: value
        for name, value in record.items()
        if name not in kept and (value == "" or defaults.get(name) == value)
    }


async def test_a_record_keeps_no_empty_or_default_field_at_any_step(scripts):
    run, clock, redis, prefix = scripts
    await beat(run, "a", register=True)
    await beat(run, "b", register=True)
    seen: list[dict[str, str]] = []

    async def lean(task_id: str) -> dict[str, str]:
        record = await redis.hgetall(f"{prefix}:task:{task_id}")
        assert not idle_fields(record), record
        seen.append(record)
        return record

    async def submitted(max_retries: int = 0) -> str:
        task_id = str(uuid.uuid4())
        params = '{"numbers":[1]}'
        await run("submit", task_id, "compute_sum", params, 0, 0, "", max_retries, "", "", "", 100)
        await lean(task_id)
        return task_id

    def outcome(result: str, error: str = "", retry: str = "0") -> tuple[str, ...]:
        return (result, error, "boom" if error else "", retry, 1_000_000, 600_000_000, "0")

    # Submitted, started, completed.
    done = await submitted()
    await run("claim", "a", "a/1")
    await lean(done)
    assert await run("finish", done, "a/1", *outcome('{"sum":1}')) == "completed"
    assert (await lean(done))["progress"] == "1"
    # Reported progress, a retry after a crash, a second attempt that fails.
    retried = await submitted(max_retries=1)
    await run("claim", "a", "a/2")
    assert await run("progress", retried, "a/2", "0.5")
    assert await run("finish", retried, "a/2", *outcome("", "crash", "1")) == "queued"
    assert (await lean(retried))["etype"] == "crash"
    await clock.advance(2)
    await run("claim", "a", "a/3")
    assert "progress" not in await lean(retried), "the new attempt starts at 0"
    assert await run("finish", retried, "a/3", *outcome("", "crash", "1")) == "failed"
    await lean(retried)
    # Cancelled after a retry: the error of the attempt before goes.
    cancelled = await submitted(max_retries=1)
    await run("claim", "a", "a/4")
    await run("finish", cancelled, "a/4", *outcome("", "crash", "1"))
    await run("cancel", cancelled, "", 600_000_000, "a")
    assert "etype" not in await lean(cancelled)
    # Given back undone: no attempt, no start.
    released = await submitted()
    await run("claim", "a", "a/5")
    assert await run("release", released, "a/5", "a") == "released"
    assert {"started", "attempts", "lease"}.isdisjoint(await lean(released))
    # Lost with its replica.
    await run("claim", "b", "b/1")
    await redis.zadd(f"{prefix}:replicas", {"b": 0}, xx=True)
    assert await run("reap", 1_000_000, 600_000_000) == 1
    assert (await lean(released))["etype"] == "worker_lost"
    statuses = {record["status"] for record in seen}
    assert statuses == {"queued", "processing", "completed", "failed", "cancelled"}
