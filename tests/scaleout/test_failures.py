"""A replica over Redis when things fail: Redis goes away, its event reader is cut off,
the replica shuts down with tasks running."""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
import redis as redis_sync
from conftest import REDIS_PORTS
from support import REPORT, SUM, FakeClock, Stream, settle, submit, submit_to, watch

from bench.server import Server, redis_ping, redis_server
from taskmanager.actors.messages import GetDispatcherStatus
from taskmanager.actors.redis.connection import READER_NAME, Scripts, connect
from taskmanager.actors.redis.events import RedisLog
from taskmanager.actors.redis.queue import RedisQueue
from taskmanager.actors.runtime import UnavailableError
from taskmanager.actors.system import ActorSystem
from taskmanager.demo import GenerateReport

RECOVERY_SECONDS = 5.0


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, which the test may stop and start again."""
    server = redis_server(tmp_path, ports=REDIS_PORTS)
    with server:
        yield server


def restart(server: Server, tmp_path) -> Server:
    """The same redis-server again, on the same port (it kept nothing)."""
    again = Server("redis-again", server.argv, port=server.port, log_dir=tmp_path, probe=redis_ping)
    again.start()
    again.wait_ready()
    return again


@pytest.mark.serial
async def test_while_redis_is_down_every_request_gets_503_in_time_and_it_recovers(
    make_client, own_redis, tmp_path, caplog
):
    client = await make_client(redis_url=f"redis://127.0.0.1:{own_redis.port}/0")
    task_id = await submit(client)
    own_redis.stop()
    caplog.set_level(logging.INFO)
    requests = [
        ("POST", "/tasks", SUM),
        ("GET", f"/tasks/{task_id}", None),
        ("GET", f"/tasks/{task_id}?wait=true", None),
        ("GET", "/tasks", None),
        ("DELETE", f"/tasks/{task_id}", None),
        ("GET", "/stats", None),
        ("GET", "/events", None),
    ]
    for method, path, body in requests:
        started = time.monotonic()
        response = await client.request(method, path, json=body)
        assert response.status_code == 503, (method, path, response.text)
        assert response.headers["retry-after"], (method, path)
        assert response.json()["detail"]
        assert time.monotonic() - started < 2, (method, path)
    health = await client.get("/healthz")
    assert health.status_code == 503
    assert "Redis" in health.json()["detail"]
    assert not any(record.exc_info for record in caplog.records), "a traceback in the log"
    again = restart(own_redis, tmp_path)
    try:
        deadline = time.monotonic() + RECOVERY_SECONDS
        while (await client.get("/healthz")).status_code != 200:
            # Redis is another process: there is nothing to wait on but its answers.
            assert time.monotonic() < deadline, "the replica did not recover in 5 s"
        assert (await client.post("/tasks", json=SUM)).status_code == 202
    finally:
        again.stop()


async def test_a_reader_cut_off_from_redis_reconnects_and_loses_no_event(
    client, redis_url, clock: FakeClock
):
    stream = Stream(client.app)
    await settle()
    first = await submit(client)
    assert (await stream.message())["event"] == "submitted"
    admin = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    try:
        readers = [c["id"] for c in admin.client_list() if c["name"] == READER_NAME]
        assert readers
        for reader in readers:
            admin.client_kill_filter(_id=reader)
    finally:
        admin.close()
    # Changes while the reader reconnects still reach the stream, in order, once.
    others = [await submit(client) for _ in range(3)]
    await clock.advance(5)
    events = []
    while len([e for e in events if e["event"] == "completed"]) < 4:
        events.append(await stream.message())
    await stream.close()
    ids = [event["id"] for event in events]
    assert len(ids) == len(set(ids))
    per_task = {}
    for event in events:
        per_task.setdefault(json.loads(event["data"])["task_id"], []).append(event["event"])
    assert per_task[first] == ["started", "completed"]
    for task_id in others:
        assert per_task[task_id] == ["submitted", "started", "completed"]


async def test_a_replica_that_shuts_down_hands_its_running_tasks_to_another(
    make_client, clock: FakeClock, caplog
):
    leaving = await make_client(workers=1, shutdown_grace=0)
    task_id = await submit(leaving, REPORT)
    await settle()
    assert (await leaving.get(f"/tasks/{task_id}")).json()["status"] == "processing"
    staying = await make_client(workers=1)
    caplog.set_level(logging.WARNING)
    watching = Stream(staying.app, query=f"task_id={task_id}".encode())
    await settle()
    await leaving.app.state.system.shutdown()
    assert "back in the queue for another replica" in caplog.text
    while (await watching.message())["event"] != "started":
        pass  # the other replica took it
    await watching.close()
    await clock.advance(10)
    task = (await staying.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "completed"
    assert task["attempts"] == 1  # handed over, not failed: no retry used


async def test_a_claim_whose_answer_is_lost_is_given_back_and_the_task_runs_once(
    client, clock: FakeClock, monkeypatch
):
    """The claim script started the task, but the connection dropped before its answer came."""
    real_take = RedisQueue.take
    lost = []

    async def take_then_lose_the_answer(self, now, *, last=False):
        taken = await real_take(self, now, last=last)
        if taken is not None and not lost:
            lost.append(taken[0].task_id)
            raise UnavailableError("the connection dropped before the answer")
        return taken

    monkeypatch.setattr(RedisQueue, "take", take_then_lose_the_answer)
    task_id = await submit(client)
    await settle()
    assert [str(task_id) for task_id in lost] == [task_id]
    assert (await client.get(f"/tasks/{task_id}")).json()["status"] == "processing"
    for _ in range(10):  # the heartbeats find it runs nowhere, and give it back
        await clock.advance(1)
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "completed", task
    assert task["attempts"] == 1  # given back, not failed: no retry used


async def test_a_task_claimed_on_a_clock_stepped_back_runs_once_it_is_due(
    client, clock: FakeClock, monkeypatch
):
    """The clock steps back between the submission and the claim: not yet due.

    The task is neither started nor lost: it waits for its time, and runs then.
    """
    real_take = RedisQueue.take
    stepped: list[bool] = []

    async def take_on_a_clock_stepped_back(self, now, *, last=False):
        if not stepped and await self._redis.zcard(f"{self._prefix}:ready"):
            stepped.append(True)
            clock._now -= 10
        return await real_take(self, now, last=last)

    monkeypatch.setattr(RedisQueue, "take", take_on_a_clock_stepped_back)
    # The workers' first look for work, at start, is over: the claim comes after the task.
    await settle()
    task_id = await submit(client)
    await settle()
    assert stepped == [True]
    assert (await client.get(f"/tasks/{task_id}")).json()["status"] == "queued"
    for _ in range(20):  # back at the moment it was submitted, and five seconds of work
        await clock.advance(1)
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "completed", task
    assert task["attempts"] == 1


async def test_redis_out_of_memory_refuses_submissions_with_503_and_running_tasks_go_on(
    make_client, own_redis, clock: FakeClock, caplog
):
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    client = await make_client(redis_url=url, lease=10)
    running = await submit(client, REPORT)  # ten seconds of work
    await settle()
    admin = redis_sync.Redis.from_url(url, decode_responses=True)
    try:
        admin.config_set("maxmemory", 1)  # every write that may grow memory is refused now
        caplog.set_level(logging.WARNING)
        refused = await client.post("/tasks", json=SUM)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"]
        # Counted as any request is: Redis refuses the task, not the window's entry.
        assert refused.headers["ratelimit"].startswith('"default";r=9998;')
        assert refused.json()["detail"]
        # Reads still work.
        assert (await client.get(f"/tasks/{running}")).json()["status"] == "processing"
        # The lease keeps being renewed: the replica does not stop its own job.
        for _ in range(10):
            await clock.advance(1)
        assert "could not renew its lease" not in caplog.text
        assert (await client.get(f"/tasks/{running}")).json()["status"] == "completed"
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
    assert not any(record.exc_info for record in caplog.records), "a traceback in the log"


def kill_event_readers(url: str) -> None:
    """Drop the event readers' connections, as a restart of Redis does."""
    admin = redis_sync.Redis.from_url(url, decode_responses=True)
    try:
        for reader in [c["id"] for c in admin.client_list() if c["name"] == READER_NAME]:
            admin.client_kill_filter(_id=reader)
    finally:
        admin.close()


# The stream as Redis rebuilds it from an append-only file that lacks the last entries:
# the entries up to ARGV[1], and no trace of the others (nothing was deleted, to Redis).
KEEP_UP_TO = """
local kept = redis.call('XRANGE', KEYS[1], '-', ARGV[1])
redis.call('DEL', KEYS[1])
for _, entry in ipairs(kept) do
  redis.call('XADD', KEYS[1], entry[1], unpack(entry[2]))
end
return #kept
"""

# Entries added and trimmed in one step: a reader that follows sees only what is left.
ADD_AND_TRIM = """
local template = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][2]
for _ = 1, 10 do
  redis.call('XADD', KEYS[1], '*', unpack(template))
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', 1)
"""


async def test_events_trimmed_before_a_connected_reader_read_them_resync_every_feed(
    client, redis_url
):
    stream = Stream(client.app)
    await settle()
    await submit(client, {**SUM, "delay": 60})
    assert (await stream.message())["event"] == "submitted"
    prefix = client.app.state.system.settings.redis_prefix
    admin = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    try:
        # The reader stays connected: no reconnect tells it that the log moved on.
        admin.eval(ADD_AND_TRIM, 1, f"{prefix}:events")
    finally:
        admin.close()
    assert (await stream.message())["event"] == "resync", "nine events were skipped silently"
    await stream.close()


async def test_a_last_event_id_redis_lost_in_a_crash_gets_a_resync(client, redis_url):
    stream = Stream(client.app)
    await settle()
    await submit(client, {**SUM, "delay": 60})
    await submit(client, {**SUM, "delay": 60})
    kept, lost = await stream.messages(2)
    prefix = client.app.state.system.settings.redis_prefix
    admin = redis_sync.Redis.from_url(redis_url, decode_responses=True)
    try:
        # Redis crashed and came back from its append-only file without its last second.
        admin.eval(KEEP_UP_TO, 1, f"{prefix}:events", kept["id"].partition("-")[2])
    finally:
        admin.close()
    kill_event_readers(redis_url)
    assert (await stream.message())["event"] == "resync"
    await stream.close()
    # A client that saw the lost event is not continued as if nothing had been lost.
    resumed = Stream(client.app, headers=[(b"last-event-id", lost["id"].encode())])
    assert (await resumed.message())["event"] == "resync"
    again = await submit(client, {**SUM, "delay": 60})
    event = await resumed.message()
    assert (event["event"], json.loads(event["data"])["task_id"]) == ("submitted", again)
    await resumed.close()


async def test_a_replay_never_continues_from_an_event_the_stream_does_not_hold(redis_url):
    """A replica that came up after Redis lost its last second never read the lost events."""
    prefix = f"l{uuid.uuid4().hex[:10]}"
    redis = connect(redis_url)
    try:
        log = RedisLog(redis, prefix)
        epoch, _ = await log.open()
        fields = {"k": "progress", "i": str(uuid.uuid4()), "o": ""}
        kept = await redis.xadd(log.stream, fields, id="1000-0")
        lost = await redis.xadd(log.stream, fields, id="1000-1")
        await redis.eval(KEEP_UP_TO, 1, log.stream, kept)
        newer = await redis.xadd(log.stream, fields)  # written after Redis came back
        assert await log.since(f"{epoch}-{lost}", f"{epoch}-{newer}") is None
        replay = await log.since(f"{epoch}-{kept}", f"{epoch}-{newer}")
        assert replay is not None
        assert [change.id for change in replay] == [f"{epoch}-{newer}"]
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_a_replica_cut_off_from_redis_stops_its_jobs_well_before_its_lease_ends(
    make_settings, clock: FakeClock, monkeypatch, caplog
):
    """Its lease ends half a lease after the last renewal reached Redis; others may then
    take its tasks. Its jobs stop an eighth of a lease before that at the latest."""
    lease = 8.0
    system = ActorSystem(make_settings(lease=lease), clock)
    watch(system.actors)
    await system.start()
    try:
        await submit_to(system, GenerateReport(title="long", sections=4))
        await settle()
        assert (await system.dispatcher.ask(GetDispatcherStatus())).busy == 1
        store = system.store
        real_call = Scripts.__call__

        async def renewals_never_arrive(self, name, *args):
            if name == "heartbeat":
                raise UnavailableError("cut off")
            return await real_call(self, name, *args)

        await clock.advance(0.5)  # between two renewals
        monkeypatch.setattr(Scripts, "__call__", renewals_never_arrive)
        scripts = store._scripts
        deadline_us = int(await store._redis.zscore(f"{store._prefix}:replicas", store._replica))
        caplog.set_level(logging.WARNING)
        while (await system.dispatcher.ask(GetDispatcherStatus())).busy:
            await clock.advance(lease / 64)
            assert int(scripts.now()) < deadline_us, "still running when others may take it"
        assert "could not renew its lease" in caplog.text
        margin = (deadline_us - int(scripts.now())) / 1_000_000
        assert margin >= lease / 8, f"stopped only {margin} s before others may take its tasks"
    finally:
        monkeypatch.undo()
        await system.stop()


async def test_the_event_log_opens_and_starts_over_while_redis_is_out_of_memory(own_redis):
    """An event reader that reconnects while Redis is full still follows the log."""
    redis = connect(f"redis://127.0.0.1:{own_redis.port}/0")
    try:
        log = RedisLog(redis, "full")
        epoch, _ = await log.open()
        await redis.config_set("maxmemory", 1)
        assert await log.open() == (epoch, None)
        assert await log.start_over(epoch) != epoch
    finally:
        await redis.config_set("maxmemory", 0)
        await redis.aclose()
