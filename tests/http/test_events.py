"""The live event stream, /stats and /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import FakeClock, http_scope, settle

from taskmanager.actors import events as events_module
from taskmanager.actors.events import (
    CloseStreams,
    EventHub,
    GetSubscriberCount,
    Subscribe,
    TaskChanged,
)
from taskmanager.actors.runtime import Supervisor

SUM = {"task_type": "compute_sum", "parameters": {"numbers": [1, 2]}}
REPORT = {"task_type": "generate_report", "parameters": {"title": "t", "sections": 2}}


class Stream:
    """A raw ASGI client for one event stream, so each chunk is seen as it is sent."""

    def __init__(self, app, query: bytes = b"", headers=()) -> None:
        self.app = app
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.hang_up = asyncio.Event()
        self.buffer = b""
        scope = http_scope("/events", query, tuple(headers), spec_version="2.4")
        self.task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self):
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
        else:
            await self.chunks.put(message.get("body", b""))

    async def messages(self, count: int) -> list[dict]:
        """The next ``count`` SSE messages (comments included as {"comment": ...})."""
        found: list[dict] = []
        while len(found) < count:
            while b"\n\n" not in self.buffer:
                self.buffer += await asyncio.wait_for(self.chunks.get(), 5)
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            message: dict = {}
            for line in raw.decode().splitlines():
                field, _, value = line.partition(":")
                message[field or "comment"] = value.strip()
            if "retry" not in message:
                found.append(message)
        return found

    async def close(self) -> None:
        self.hang_up.set()
        await self.task


async def submit(client, body=SUM) -> str:
    response = await client.post("/tasks", json=body)
    assert response.status_code == 202
    return response.json()["task_id"]


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
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    data = [json.loads(e["data"]) for e in events]
    assert all(d["task_id"] == task_id for d in data)
    assert [d["progress"] for d in data] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert data[-1]["task"]["result"].startswith("# t")
    await stream.close()


async def test_a_stream_can_follow_one_task(client, clock: FakeClock):
    first = await submit(client)
    stream = Stream(client.app, query=f"task_id={first}".encode())
    await settle()
    await submit(client)
    await clock.advance(5)
    events = await stream.messages(1)
    assert json.loads(events[0]["data"])["task_id"] == first
    assert events[0]["event"] == "completed"
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
    assert missed[0]["event"] == "completed"
    assert int(missed[0]["id"]) == int(seen[-1]["id"]) + 1
    await resumed.close()


async def test_a_last_event_id_from_before_a_restart_gets_a_resync(client):
    stream = Stream(client.app, headers=[(b"last-event-id", b"999")])
    assert (await stream.messages(1))[0]["event"] == "resync"
    await stream.close()


async def test_a_subscriber_too_far_behind_the_replay_buffer_gets_a_resync():
    hub = EventHub(replay_buffer=3)
    hub.start(Supervisor())
    try:
        for _ in range(5):
            hub.tell(TaskChanged("removed", uuid.uuid4(), None))
        behind = await hub.ask(Subscribe(last_event_id=1))
        assert isinstance(behind.queue.get_nowait(), events_module.Resync)
        recent = await hub.ask(Subscribe(last_event_id=3))
        assert [behind_event.id for behind_event in _drain(recent.queue)] == [4, 5]
    finally:
        await hub.stop()


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


async def test_stats_report_queue_workers_counts_and_completions(client, clock: FakeClock):
    for _ in range(7):
        await submit(client)
    await settle()
    stats = (await client.get("/stats")).json()
    assert stats["queue_depth"] == 2
    assert stats["workers"] == {"total": 5, "busy": 5, "idle": 0}
    assert stats["counts"]["queued"] == 2
    assert stats["counts"]["processing"] == 5
    await clock.advance(10)
    stats = (await client.get("/stats")).json()
    assert stats["counts"]["completed"] == 7
    assert len(stats["completed_per_minute"]) == 10
    assert sum(minute["count"] for minute in stats["completed_per_minute"]) == 7
    assert stats["workers"]["busy"] == 0


async def test_metrics_parse_as_prometheus_text(client, clock: FakeClock):
    await submit(client)
    await submit(client, {"task_type": "simulate_error"})
    await clock.advance(5)
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["taskmanager_queue_depth"].type == "gauge"
    finished = {s.labels["status"]: s.value for s in families["taskmanager_tasks_finished"].samples}
    assert finished == {"completed": 1, "failed": 1, "cancelled": 0}
    assert families["taskmanager_tasks_finished"].type == "counter"
    kept = {s.labels["status"]: s.value for s in families["taskmanager_tasks"].samples}
    assert kept["completed"] == 1
    workers = {s.labels["state"]: s.value for s in families["taskmanager_workers"].samples}
    assert workers == {"busy": 0, "idle": 5}


@pytest.mark.parametrize("path", ["/stats", "/metrics"])
async def test_stats_do_not_count_against_the_limit(make_client, path):
    client = await make_client(rate_limit="1/minute")
    for _ in range(3):
        assert (await client.get(path)).status_code == 200
