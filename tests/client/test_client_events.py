"""``events`` and ``follow`` over a real stream: resumption after a drop, resync, progress."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from bench.server import Server, taskmanager_server
from taskmanager.client import AsyncClient, Client, Event, NotFound, Resync, TaskStatus

#: Loopback ports for the client tests' server processes (see bench.server).
PORTS = range(8700, 8800)
QUEUED = {"delay": 3600}  # a task that stays queued: its only event is "submitted"


class DropStreams:
    """ASGI middleware: the first ``/events`` response breaks off before its second batch
    of events, as a proxy or a network that drops the connection would.

    ``abort`` cuts the connection mid-response; otherwise the response just ends.
    Records the ``Last-Event-ID`` each stream was opened with.
    """

    def __init__(self, app, *, abort: bool = False) -> None:
        self.app = app
        self.abort = abort
        self.opened_with: list[str | None] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/events":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        last = headers.get(b"last-event-id")
        self.opened_with.append(last.decode() if last else None)
        if len(self.opened_with) > 1:
            await self.app(scope, receive, send)
            return
        batches = 0

        async def send_until_dropped(message) -> None:
            nonlocal batches
            if message["type"] == "http.response.body" and b"\nid: " in b"\n" + message["body"]:
                batches += 1
                if batches == 2:
                    raise OSError("dropped")  # the stream's own handling of a broken pipe
            await send(message)

        await self.app(scope, receive, send_until_dropped)
        if self.abort:
            raise RuntimeError("connection cut")  # uvicorn closes the socket mid-body
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def queued_task(client, number: int):
    """Submit a task that stays queued; its id."""
    return client.submit("compute_sum", {"numbers": [number]}, **QUEUED).task_id


def submitted_ids(items) -> list:
    assert all(isinstance(item, Event) and item.kind == "submitted" for item in items), items
    return [item.task_id for item in items]


@pytest.mark.parametrize("abort", [False, True], ids=["stream-ends", "connection-cut"])
def test_a_dropped_stream_resumes_after_the_last_event_with_nothing_lost_or_repeated(
    live_server, make_sync_client, abort
):
    drop = DropStreams(None, abort=abort)

    def wrap(app):
        drop.app = app
        return drop

    server = live_server(wrap=wrap)
    submitter = make_sync_client(server.url)
    submitted = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        # While the client is away, another task is submitted: the replay must bring it.
        submitted.append(submitter.submit("compute_sum", {"numbers": [9]}, **QUEUED).task_id)

    client = make_sync_client(server.url, sleep=sleep)
    with client.subscribe() as subscription:
        submitted.append(submitter.submit("compute_sum", {"numbers": [1]}, **QUEUED).task_id)
        first = subscription.next()
        # These two go out in the stream's second batch, which never arrives.
        submitted += [queued_task(submitter, n) for n in (2, 3)]
        rest = [subscription.next() for _ in range(3)]
    items = [first, *rest]
    assert submitted_ids(items) == submitted
    ids = [item.id for item in items]
    assert len(set(ids)) == 4
    assert slept == [2.0]  # the server's "retry: 2000"
    assert drop.opened_with == [None, first.id]


async def test_the_async_client_resumes_a_dropped_stream_too(live_server, make_sync_client):
    drop = DropStreams(None)

    def wrap(app):
        drop.app = app
        return drop

    server = live_server(wrap=wrap)
    submitter = make_sync_client(server.url)
    submitted = []

    async def sleep(seconds: float) -> None:
        submitted.append(submitter.submit("compute_sum", {"numbers": [9]}, **QUEUED).task_id)

    client = AsyncClient(server.url, sleep=sleep)
    async with client, client.subscribe() as subscription:
        submitted.append(queued_task(submitter, 1))
        items = [await subscription.next()]
        submitted += [queued_task(submitter, n) for n in (2, 3)]
        items += [await subscription.next() for _ in range(3)]
    assert submitted_ids(items) == submitted
    assert drop.opened_with == [None, items[0].id]


def test_events_from_a_last_event_id_replay_what_came_after_it(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    with client.subscribe() as subscription:
        ids = [client.submit("compute_sum", {"numbers": [n]}, **QUEUED).task_id for n in range(3)]
        seen = [subscription.next() for _ in range(3)]
    assert submitted_ids(seen) == ids
    with contextlib.closing(client.events(last_event_id=seen[0].id)) as events:
        replayed = [next(events), next(events)]
    assert replayed == seen[1:]


def test_an_id_the_log_cannot_continue_gets_a_resync_first(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    with contextlib.closing(client.events(last_event_id="00000000-1")) as events:
        assert isinstance(next(events), Resync)


def test_events_for_one_task_carry_only_that_tasks_changes(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    mine = client.submit("generate_report", {"title": "t", "sections": 2})
    with client.subscribe(task_id=mine.task_id) as subscription:
        client.submit("compute_sum", {"numbers": [1]})  # another task's changes
        server.advance(10)
        items = [subscription.next() for _ in range(3)]
    assert {item.task_id for item in items} == {mine.task_id}
    assert [item.kind for item in items] == ["progress", "progress", "completed"]
    assert items[-1].task.result.startswith("# t")


def test_follow_yields_each_change_until_the_task_finishes(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    task = client.submit("generate_report", {"title": "t", "sections": 4})
    updates = client.follow(task.task_id)
    first = next(updates)
    assert first.task_id == task.task_id
    server.advance(20)
    rest = list(updates)  # ends by itself at the terminal state
    assert [update.progress for update in rest] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert rest[-1].status is TaskStatus.COMPLETED
    assert all(update.status is TaskStatus.PROCESSING for update in rest[:-1])


def test_follow_of_a_finished_task_yields_it_once(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    task = client.submit("simulate_error", {})
    server.advance(5)
    assert client.wait(task.task_id).status is TaskStatus.FAILED
    updates = list(client.follow(task.task_id))
    assert len(updates) == 1
    assert updates[0].error is not None
    assert updates[0].error.type == "value_error"


def test_follow_of_an_unknown_task_raises_not_found(live_server, make_sync_client):
    client = make_sync_client(live_server().url)
    with pytest.raises(NotFound):
        next(client.follow("3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"))


def test_after_a_restart_the_stream_resumes_with_a_resync_marker(tmp_path: Path):
    settings = {"rate_limit": "1000/second", "shutdown_grace": 0}
    first = taskmanager_server(tmp_path, ports=PORTS, settings=settings)
    second = Server(
        "taskmanager-again",
        first.argv,
        port=first.port,
        log_dir=tmp_path,
        env=first.env,
        cwd=first.cwd,
    )
    slept: list[float] = []

    def restart(seconds: float) -> None:
        slept.append(seconds)
        if second._process is None:
            second.start()
            second.wait_ready()

    with first, contextlib.ExitStack() as stack:
        stack.callback(second.stop)
        client = stack.enter_context(Client(first.url(), sleep=restart))
        submitter = stack.enter_context(Client(first.url(), retries=0))
        subscription = stack.enter_context(client.subscribe())
        old_task = submitter.submit("compute_sum", {"numbers": [1]}, **QUEUED)
        before = subscription.next()
        first.stop(grace=10)  # the old process cancels its queued task, ends streams, exits
        cancelled = subscription.next()
        marker = subscription.next()  # reconnected to the new process with the old id
        after_task = submitter.submit("compute_sum", {"numbers": [2]}, **QUEUED)
        after = subscription.next()
    assert isinstance(before, Event)
    assert isinstance(cancelled, Event)
    assert (cancelled.kind, cancelled.task_id) == ("cancelled", old_task.task_id)
    assert isinstance(marker, Resync)
    assert isinstance(after, Event)
    assert after.task_id == after_task.task_id
    assert after.id.split("-")[0] != before.id.split("-")[0]  # a new log, a new epoch
    assert slept
