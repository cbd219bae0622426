"""Records and events an earlier version wrote in Redis read as before.

Earlier versions wrote every field into every record, empty ones and defaults too; a
record now leaves those out. During a rolling upgrade both kinds are in Redis at once.
Their events spelt out names an event now gives with a letter; a client that resumes
from before an upgrade is replayed those.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support import REPORT, FakeClock, Stream, settle, submit, sum_of

from taskmanager.actors.redis.connection import connect

pytestmark = pytest.mark.backends("redis")

# What an earlier version kept in a record whose field was empty or at its default.
EARLIER_DEFAULTS = {
    "started": "",
    "finished": "",
    "progress": "0",
    "result": "",
    "etype": "",
    "emsg": "",
    "priority": "0",
    "timeout": "",
    "max_retries": "0",
    "attempts": "0",
    "owner": "",
    "lease": "",
    "idem": "",
    "fp": "",
}

# Tasks of each kind of life: each is submitted twice, and one of the two is turned into
# a record as an earlier version wrote it.
LIVES = {
    "completes": sum_of(1, 2),
    "reports progress": {"task_type": "generate_report", "parameters": {"title": "t"}},
    "is retried then fails": {
        "task_type": "simulate_error",
        "parameters": {"error": "crash"},
        "max_retries": 1,
    },
    "fails": {"task_type": "simulate_error", "parameters": {}},
    "is delayed": sum_of(3, delay=7, priority=2, timeout=60),
    "is cancelled": sum_of(4),
}


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Any]:
    redis = connect(redis_url)
    yield redis
    await redis.aclose()


async def as_an_earlier_version_wrote_it(raw, prefix: str, task_id: str) -> None:
    key = f"{prefix}:task:{task_id}"
    record = await raw.hgetall(key)
    assert record, task_id
    missing = {name: value for name, value in EARLIER_DEFAULTS.items() if name not in record}
    await raw.hset(key, mapping=missing | {"run_at": record.get("run_at", record["created"])})


async def test_tasks_an_earlier_version_recorded_read_and_run_as_before(
    make_client, make_settings, clock: FakeClock, raw
):
    client = await make_client(workers=len(LIVES) * 2, retry_backoff=0)
    prefix = make_settings().redis_prefix
    assert (await client.post("/queue/pause")).status_code == 200
    pairs = {}
    for life, body in LIVES.items():
        pairs[life] = (await submit(client, body), await submit(client, body))
        await as_an_earlier_version_wrote_it(raw, prefix, pairs[life][1])

    async def read_alike(step: str) -> None:
        listed = {task["task_id"]: task for task in (await client.get("/tasks")).json()}
        for life, (today, earlier) in pairs.items():
            answers = []
            for task_id in (today, earlier):
                task = (await client.get(f"/tasks/{task_id}")).json()
                assert listed[task_id] == task
                answers.append({name: value for name, value in task.items() if name != "task_id"})
            assert answers[0] == answers[1], f"{step}: the task that {life} reads otherwise"

    await read_alike("queued")
    for task_id in pairs["is cancelled"]:
        assert (await client.delete(f"/tasks/{task_id}")).status_code == 200
    assert (await client.post("/queue/resume")).status_code == 200
    await settle()
    await read_alike("started")
    for _ in range(3):
        await clock.advance(5)
        await read_alike("running")
    await clock.advance(30)
    await read_alike("ended")
    statuses = {life: (await client.get(f"/tasks/{ids[1]}")).json() for life, ids in pairs.items()}
    assert {life: task["status"] for life, task in statuses.items()} == {
        "completes": "completed",
        "reports progress": "completed",
        "is retried then fails": "failed",
        "fails": "failed",
        "is delayed": "completed",
        "is cancelled": "cancelled",
    }
    assert statuses["is retried then fails"]["attempts"] == 2


# Names the events of an earlier version spelt out, and this version gives with a letter.
# Written out here, not imported from the reader: a wrong letter in the reader's table
# must make the two spellings read differently, not alike.
EARLIER_KINDS = {
    "n": "submitted",
    "s": "started",
    "p": "progress",
    "c": "completed",
    "f": "failed",
    "x": "cancelled",
    "r": "retrying",
    "d": "removed",
}
EARLIER_FIELDS = {
    "t": "type",
    "p": "params",
    "c": "created",
    "g": "progress",
    "r": "result",
    "e": "etype",
    "m": "emsg",
    "a": "attempts",
}
# Times an earlier version wrote as they are, and this version as µs since the creation.
EARLIER_TIMES = {"u": "run_at", "s": "started", "f": "finished"}


def earlier_event(entry: dict[str, str], created: dict[str, int]) -> dict[str, str]:
    """An event as an earlier version wrote it: names spelt out, the id as a UUID's text,
    times as they are, the attempts of every start. ``created``: each task's creation."""
    task_id = str(uuid.UUID(bytes=base64.urlsafe_b64decode(entry["i"] + "==")))
    earlier = {"k": EARLIER_KINDS[entry["k"]], "i": task_id}
    if "c" in entry:
        created[task_id] = int(entry["c"])
    for name, value in entry.items():
        if name in EARLIER_TIMES:
            earlier[EARLIER_TIMES[name]] = str(created[task_id] + int(value)) if value else ""
        elif name not in earlier:
            earlier[EARLIER_FIELDS.get(name, name)] = value
    if earlier["k"] == "started":
        earlier.setdefault("attempts", "1")
    return earlier


async def test_events_an_earlier_version_wrote_replay_as_before(make_client, clock: FakeClock, raw):
    client = await make_client(workers=5, retry_backoff=0)
    prefix = client.app.state.system.settings.redis_prefix
    stream = Stream(client.app)
    await settle()
    await submit(client, sum_of(1, delay=3600))
    (before,) = await stream.messages(1)
    await stream.close()
    await submit(client, {**REPORT, "parameters": {"title": "t", "sections": 2}})
    await submit(client, {"task_type": "simulate_error", "parameters": {}})
    crash = {"task_type": "simulate_error", "parameters": {"error": "crash"}, "max_retries": 1}
    await submit(client, crash)
    await submit(client, sum_of(2, delay=7, priority=3))
    assert (await client.delete(f"/tasks/{await submit(client, sum_of(3, delay=60))}")).is_success
    for _ in range(4):
        await clock.advance(5)
    count = 18  # the events of the five tasks after the first

    async def replayed() -> list[dict[str, str]]:
        """What a client that resumes from before those tasks is sent, by a new replica."""
        replica = await make_client(workers=0)
        resumed = Stream(replica.app, headers=[(b"last-event-id", before["id"].encode())])
        messages = await resumed.messages(count)
        await resumed.close()
        return messages

    today = await replayed()
    kinds = Counter(message["event"] for message in today)
    assert kinds == {
        "submitted": 5,
        "started": 5,
        "progress": 2,
        "retrying": 1,
        "completed": 2,
        "failed": 2,
        "cancelled": 1,
    }
    assert all(json.loads(message["data"])["task"] for message in today)
    entries = await raw.xrange(f"{prefix}:events")
    await raw.delete(f"{prefix}:events")
    created: dict[str, int] = {}
    for stream_id, entry in entries:
        await raw.xadd(f"{prefix}:events", earlier_event(entry, created), id=stream_id)
    assert await replayed() == today
