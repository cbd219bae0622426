"""The live event stream, /stats and /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from support import REPORT, FakeClock, Stream, settle, submit

from taskmanager.actors import events as events_module
from taskmanager.actors.events import (
    CloseStreams,
    GetSubscriberCount,
    Subscribe,
)

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


async def test_every_change_arrives_in_order_with_increasing_ids(client, clock: FakeClock):
    stream = Stream(client.app)
    await settle()
    task_id = await submit(client, REPORT)
    await clock.advance(10)
    events = await stream.messages(5)
    assert stream.status == 200
    assert stream.headers[b"content-type"].startswith(b"text/event-stream")
    assert [e["event"] for e in events] == [
        "submitted",
        "started",
        "progress",
        "progress",
        "completed",
    ]
    # An id is <epoch>-<position>; the position is a number, or a Redis stream id.
    epochs = {e["id"].partition("-")[0] for e in events}
    positions = [tuple(int(part) for part in e["id"].split("-")[1:]) for e in events]
    assert len(epochs) == 1, "one log"
    assert positions == sorted(positions)
    assert len(set(positions)) == 5
    data = [json.loads(e["data"]) for e in events]
    assert all(d["task_id"] == task_id for d in data)
    assert [d["progress"] for d in data] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert data[-1]["task"]["result"].startswith("# quarterly")
    await stream.close()


async def test_a_stream_can_follow_one_task(client, clock: FakeClock):
    first = await submit(client)
    stream = Stream(client.app, query=f"task_id={first}".encode())
    await settle()
    await submit(client)
    await clock.advance(5)
    # (From Redis, the events just before the stream opened may still come.)
    events = [await stream.message()]
    while events[-1]["event"] != "completed":
        events.append(await stream.message())
    assert {json.loads(event["data"])["task_id"] for event in events} == {first}
    await stream.close()


async def test_reconnecting_with_last_event_id_replays_what_was_missed(client, clock: FakeClock):
    stream = Stream(client.app)
    await settle()
    await submit(client)
    seen = await stream.messages(2)  # submitted, started
    await stream.close()
    await clock.advance(5)  # completed, while nobody listens
    resumed = Stream(client.app, headers=[(b"last-event-id", seen[-1]["id"].encode())])
    missed = await resumed.messages(1)
    assert [m["event"] for m in missed] == ["completed"]
    await resumed.close()


async def test_a_last_event_id_from_another_run_gets_one_resync_then_new_events(
    make_client, backend
):
    """Another run: a restart of this process, or on Redis another deployment's log."""
    before = await make_client()
    stream = Stream(before.app)
    await settle()
    for _ in range(3):
        await submit(before)
    old_id = (await stream.messages(3))[-1]["id"]
    await stream.close()
    # Another run of the service that has published more than the old one.
    other = {"redis_prefix": f"other{uuid.uuid4().hex[:8]}"} if backend == "redis" else {}
    after = await make_client(**other)
    for _ in range(5):
        await submit(after)
    resumed = Stream(after.app, headers=[(b"last-event-id", old_id.encode())])
    (first,) = await resumed.messages(1)
    assert first["event"] == "resync"
    await submit(after)
    (second,) = await resumed.messages(1)
    assert second["event"] != "resync"
    assert second["id"].partition("-")[0] != old_id.partition("-")[0]
    await resumed.close()


@pytest.mark.parametrize(
    "last_event_id",
    [b"7", b"not-an-id", b"", b"\xff\xfe", b"abc-999999999999999999999999", b"-1"],
)
async def test_a_last_event_id_the_log_cannot_continue_gets_a_resync_not_an_error(
    client, last_event_id
):
    stream = Stream(client.app, headers=[(b"last-event-id", last_event_id)])
    assert (await stream.messages(1))[0]["event"] == "resync"
    assert stream.status == 200
    await stream.close()


async def test_a_last_event_id_from_the_future_of_this_log_gets_a_resync(client):
    epoch = client.app.state.system.events.epoch
    stream = Stream(client.app, headers=[(b"last-event-id", f"{epoch}-99".encode())])
    assert (await stream.messages(1))[0]["event"] == "resync"
    await stream.close()


def _drain(queue):
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_slow_subscriber_is_told_to_resync_and_never_slows_the_actors(client, monkeypatch):
    monkeypatch.setattr(events_module, "SUBSCRIBER_BUFFER", 4)
    hub = client.app.state.system.events
    slow = await hub.ask(Subscribe())
    for _ in range(10):
        await submit(client)
    await settle()
    backlog = _drain(slow.queue)
    assert len(backlog) <= 5
    assert any(isinstance(item, events_module.Resync) for item in backlog)


async def test_a_client_that_hangs_up_frees_its_subscription_at_once(client):
    hub = client.app.state.system.events
    stream = Stream(client.app)
    await settle()
    assert await hub.ask(GetSubscriberCount()) == 1
    await stream.close()
    await settle()
    assert await hub.ask(GetSubscriberCount()) == 0


async def test_an_idle_stream_gets_a_heartbeat_comment(client):
    client.app.state.heartbeat = 0.01
    stream = Stream(client.app)
    assert (await stream.messages(1))[0] == {"comment": "ping"}
    await stream.close()


async def test_closing_the_streams_answers_every_open_stream(client):
    stream = Stream(client.app)
    await settle()
    client.app.state.system.events.tell(CloseStreams())
    await asyncio.wait_for(stream.task, 5)


async def test_the_stream_counts_once_against_the_rate_limit(make_client, clock: FakeClock):
    client = await make_client(rate_limit="2/minute")
    stream = Stream(client.app)
    await settle()
    assert stream.status == 200
    await client.get("/tasks")
    assert (await client.get("/tasks")).status_code == 429
    await stream.close()


@pytest.mark.parametrize(
    "position", ["99999999999999999999", "0-99999999999999999999", "18446744073709551616-0"]
)
async def test_a_crafted_last_event_id_of_this_log_gets_a_resync_and_harms_nothing(
    client, position
):
    watching = Stream(client.app)
    await settle()
    await submit(client)
    assert (await watching.message())["event"] == "submitted"  # the log has an event now
    await watching.close()
    epoch = client.app.state.system.events.epoch
    for _ in range(7):  # more than the supervisor allows crashes in a minute
        stream = Stream(client.app, headers=[(b"last-event-id", f"{epoch}-{position}".encode())])
        assert (await stream.message())["event"] == "resync"
        assert stream.status == 200
        await stream.close()
    assert (await client.get("/healthz")).status_code == 200
