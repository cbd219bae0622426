"""Two replicas over one Redis, in one process: every promise holds across them."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import redis as redis_sync
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


@pytest.mark.serial
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


@pytest.mark.serial
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


async def test_events_carry_the_parameters_of_the_other_replicas_tasks_small_or_large(pair):
    a, b = pair
    on_a = Stream(a.app)
    await settle()
    small = sum_of(1, 2, delay=60)
    large = sum_of(*range(300), delay=60)  # too large to travel in the event itself
    submitted = {await submit(b, body): body["parameters"] for body in (small, large)}
    seen = {}
    while len(seen) < len(submitted):
        event = await on_a.message()
        task = json.loads(event["data"])["task"]
        seen[task["task_id"]] = task["parameters"]
    await on_a.close()
    assert seen == submitted


def _reading_the_log(redis_url: str) -> int:
    """Clients blocked reading the event stream right now."""
    admin = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sum(1 for c in admin.client_list() if c["cmd"] == "xread" and "b" in c["flags"])
    finally:
        admin.close()


async def test_only_a_replica_with_a_stream_open_reads_the_event_log(pair, redis_url):
    a, b = pair
    await submit(a)
    await settle()
    assert _reading_the_log(redis_url) == 0  # nobody subscribes: nobody reads every change
    on_b = Stream(b.app)
    await settle()
    task_id = await submit(a)
    event = await on_b.message()
    assert (event["event"], json.loads(event["data"])["task_id"]) == ("submitted", task_id)
    await settle()  # the task's next events follow at once: read, the reader blocks again
    assert _reading_the_log(redis_url) == 1
    await on_b.close()


@pytest.mark.serial
async def test_an_idle_replica_takes_what_a_busy_one_was_given_without_polling(make_client):
    busy = await make_client(workers=1)
    idle = await make_client(workers=1)
    await submit(busy, REPORT)
    await settle()
    task_id = await submit(busy, sum_of(1))
    # The fake clock stands still: no timer looks at the queue, only the doorbell wakes.
    deadline = time.monotonic() + 2
    while (await idle.get(f"/tasks/{task_id}")).json()["status"] == "queued":
        assert time.monotonic() < deadline, "the idle replica never took the task"
        await asyncio.sleep(0.01)  # the other replica works through Redis: nothing to await


async def test_a_chain_of_tasks_runs_across_replicas_and_a_failure_cancels_across_them(
    make_client, clock: FakeClock
):
    a, b = await make_client(workers=1), await make_client(workers=1)
    on_b = Stream(b.app)
    await settle()
    first = await submit(a, sum_of(1))
    second = await submit(b, {**sum_of(2), "depends_on": [first]})
    third = await submit(a, {**sum_of(3), "depends_on": [second]})
    waiting = asyncio.create_task(b.get(f"/tasks/{third}", params={"wait": "true"}))
    for _ in range(3):
        await clock.advance(5)
    assert (await waiting).json()["status"] == "processing"
    await clock.advance(5)
    for task_id in (first, second, third):
        assert (await b.get(f"/tasks/{task_id}")).json()["status"] == "completed"
    started = []
    while len(started) < 3:
        event = await on_b.message()
        if event["event"] == "started":
            started.append(json.loads(event["data"]))
    await on_b.close()
    assert [(e["task_id"], e["task"]["waiting_for"]) for e in started] == [
        (first, []),
        (second, []),
        (third, []),
    ]
    failing = await submit(b, {"task_type": "simulate_error", "parameters": {}})
    after_failing = await submit(a, {**SUM, "depends_on": [failing]})
    last = await submit(b, {**SUM, "depends_on": [after_failing]})
    await clock.advance(5)
    await settle()
    cancelled = (await a.get(f"/tasks/{last}")).json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["message"] == f"dependency {after_failing} cancelled"
