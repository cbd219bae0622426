"""Two replicas over one Redis, in one process: every promise holds across them."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from support import REPORT, SUM, FakeClock, Stream, settle, submit, sum_of

from taskmanager.actors.messages import GetDispatcherStatus


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
async def pair(make_client):
    """Replicas a and b of one service."""
    return await make_client(), await make_client()


async def test_a_task_submitted_on_one_replica_is_readable_on_the_other_at_once(pair):
    a, b = pair
    task_id = await submit(a)
    response = await b.get(f"/tasks/{task_id}")
    assert response.status_code == 200
    assert response.json()["task_id"] == task_id


async def test_a_long_poll_on_one_replica_wakes_when_the_other_changes_the_task(pair):
    a, b = pair
    task_id = await submit(a, sum_of(1, delay=3600))
    waiting = asyncio.create_task(b.get(f"/tasks/{task_id}", params={"wait": "true"}))
    await settle()
    assert not waiting.done()
    started = time.monotonic()
    assert (await a.delete(f"/tasks/{task_id}")).status_code == 200
    response = await asyncio.wait_for(waiting, 2)
    assert response.json()["status"] == "cancelled"
    assert time.monotonic() - started < 1


async def test_a_cancel_on_one_replica_stops_the_job_running_on_the_other(make_client, clock):
    a = await make_client(workers=1)
    b = await make_client(workers=1)
    task_id = await submit(a, REPORT)
    await settle()
    busy = [(await c.app.state.system.dispatcher.ask(GetDispatcherStatus())).busy for c in (a, b)]
    runner, other = (a, b) if busy == [1, 0] else (b, a)
    watching = Stream(runner.app, query=f"task_id={task_id}".encode())
    await settle()
    started = time.monotonic()
    assert (await other.delete(f"/tasks/{task_id}")).status_code == 200
    while (await watching.message())["event"] != "cancelled":
        pass
    await watching.close()
    await settle()  # what the runner heard from Redis reaches its worker
    assert time.monotonic() - started < 1
    status = await runner.app.state.system.dispatcher.ask(GetDispatcherStatus())
    assert status.busy == 0
    await clock.advance(30)
    assert (await a.get(f"/tasks/{task_id}")).json()["status"] == "cancelled"


async def test_a_stream_on_one_replica_carries_both_and_resumes_on_the_other(pair, clock):
    a, b = pair
    on_a = Stream(a.app)
    await settle()
    first = await submit(a)
    second = await submit(b)
    seen = [await on_a.message() for _ in range(2)]
    await on_a.close()
    assert {json.loads(event["data"])["task_id"] for event in seen} <= {first, second}
    await clock.advance(5)  # both complete while nobody listens
    resumed = Stream(b.app, headers=[(b"last-event-id", seen[-1]["id"].encode())])
    rest = []
    while len([e for e in rest if e["event"] == "completed"]) < 2:
        rest.append(await resumed.message())
    await resumed.close()
    ids = [event["id"] for event in seen + rest]
    assert len(ids) == len(set(ids)), "an event was repeated"
    kinds = [(json.loads(e["data"])["task_id"], e["event"]) for e in seen + rest]
    for task_id in (first, second):
        assert [k for t, k in kinds if t == task_id] == ["submitted", "started", "completed"]


async def test_the_rate_limit_and_idempotency_keys_are_the_whole_services(make_client):
    a = await make_client(rate_limit="3/minute")
    b = await make_client(rate_limit="3/minute")
    headers = {"Idempotency-Key": "once"}
    first = await a.post("/tasks", json=SUM, headers=headers)
    again = await b.post("/tasks", json=SUM, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["task_id"] == first.json()["task_id"]
    assert (await a.get("/tasks")).status_code == 200
    refused = await b.get("/tasks")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 59


async def test_stats_and_metrics_count_the_whole_service(pair):
    a, b = pair
    for client in (a, b, b):
        await submit(client, sum_of(1, delay=60))
    await settle()
    for client in (a, b):
        stats = (await client.get("/stats")).json()
        assert stats["counts"]["queued"] == 3
        assert stats["workers"]["total"] == 10
    metrics = (await a.get("/metrics")).text
    assert 'taskmanager_workers{state="idle"} 10' in metrics


async def test_each_finished_task_is_removed_once(make_client, clock: FakeClock):
    a = await make_client(result_ttl=10)
    b = await make_client(result_ttl=10)
    stream = Stream(a.app)
    await settle()
    ids = {await submit(client) for client in (a, b, a, b)}
    await clock.advance(5)
    await clock.advance(12)
    removed = []
    while len(removed) < len(ids):
        event = await stream.message()
        if event["event"] == "removed":
            removed.append(json.loads(event["data"])["task_id"])
    await stream.close()
    assert sorted(removed) == sorted(ids)
    assert (await b.get("/tasks")).json() == []
