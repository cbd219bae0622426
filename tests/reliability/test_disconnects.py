"""Clients that hang up: nothing they started may stay behind."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from starlette.requests import ClientDisconnect
from support import http_scope, settle

from taskmanager.actors.events import GetSubscriberCount
from taskmanager.actors.messages import GetStoreStatus, SubmitTask
from taskmanager.actors.model import JobOptions, ParametersObject
from taskmanager.demo import ComputeSum
from taskmanager.http.routes import tasks as tasks_routes

LONG_POLLERS = 1_000
# Five pages of the store and 20 chunks: a generator that stops when its client goes is
# told apart from one that runs to the end, and each test fills its store in well under a
# second (20,000 took several, for the same checks).
LISTED_TASKS = 5_000


class HangingUpClient:
    """An ASGI client whose request is complete and which hangs up when told to."""

    def __init__(self) -> None:
        self.hang_up = asyncio.Event()
        self.request_sent = False
        self.messages: list[dict] = []

    async def receive(self) -> dict:
        if not self.request_sent:
            self.request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.messages.append(message)


async def test_a_thousand_long_pollers_that_hang_up_leave_no_waiter_and_no_task(client):
    store = client.app.state.system.store
    response = await client.post(
        "/tasks", json={"task_type": "compute_sum", "parameters": {"numbers": [1]}}
    )
    task_id = response.json()["task_id"]
    await settle()
    before = asyncio.all_tasks()
    clients = [HangingUpClient() for _ in range(LONG_POLLERS)]
    requests = [
        asyncio.create_task(
            client.app(http_scope(f"/tasks/{task_id}", b"wait=true"), each.receive, each.send)
        )
        for each in clients
    ]
    await settle()
    assert (await store.ask(GetStoreStatus())).waiters == LONG_POLLERS
    assert not any(request.done() for request in requests)

    # Half hang up, then the other half: each one's waiter goes at once.
    for each in clients[: LONG_POLLERS // 2]:
        each.hang_up.set()
    await settle()
    assert (await store.ask(GetStoreStatus())).waiters == LONG_POLLERS // 2
    assert sum(request.done() for request in requests) == LONG_POLLERS // 2
    for each in clients[LONG_POLLERS // 2 :]:
        each.hang_up.set()
    async with asyncio.timeout(10):
        await asyncio.gather(*requests)
    await settle()

    assert (await store.ask(GetStoreStatus())).waiters == 0
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    # Each got a complete answer (sent into the void): the task as it was, 200.
    starts = [each.messages[0] for each in clients]
    assert {start["status"] for start in starts} == {200}


@pytest.fixture
async def crowded_client(client):
    """A client whose store holds 20,000 tasks."""
    store = client.app.state.system.store
    for _ in range(LISTED_TASKS):
        await store.ask(
            SubmitTask("compute_sum", ParametersObject.of(ComputeSum(numbers=(1,))), JobOptions())
        )
    return client


@pytest.fixture
def produced_chunks(monkeypatch) -> list[bytes]:
    """Every chunk the listing's generator produced."""
    produced: list[bytes] = []
    original = tasks_routes._json_array

    async def counting(tasks):
        async for chunk in original(tasks):
            produced.append(chunk)
            yield chunk

    monkeypatch.setattr(tasks_routes, "_json_array", counting)
    return produced


def all_chunks() -> int:
    return 2 + -(-LISTED_TASKS // tasks_routes.LIST_CHUNK)  # "[", the chunks, "]"


async def test_the_whole_listing_streams_in_chunks(crowded_client, produced_chunks):
    response = await crowded_client.get("/tasks")
    assert len(response.json()) == LISTED_TASKS
    assert len(produced_chunks) == all_chunks()


async def test_a_client_that_hangs_up_mid_listing_stops_the_generator(
    crowded_client, produced_chunks
):
    listener = HangingUpClient()
    bodies = 0

    async def send(message: dict) -> None:
        nonlocal bodies
        if message["type"] == "http.response.body":
            bodies += 1
            if bodies == 2:  # "[" and the first chunk arrived; then the client leaves
                listener.hang_up.set()
        await asyncio.sleep(0)  # a socket write lets the loop run

    async with asyncio.timeout(5):
        await crowded_client.app(http_scope("/tasks"), listener.receive, send)
    await settle()
    assert 2 <= len(produced_chunks) < all_chunks() // 2


async def test_a_listing_whose_socket_breaks_stops_the_generator(crowded_client, produced_chunks):
    bodies = 0

    async def send(message: dict) -> None:
        nonlocal bodies
        if message["type"] == "http.response.body":
            bodies += 1
            if bodies == 2:
                raise OSError("connection reset by peer")

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    # ASGI 2.4 servers report a broken socket by raising from send; Starlette turns that
    # into ClientDisconnect, which reaches the server (that is its business, not an answer).
    async with asyncio.timeout(5):
        with contextlib.suppress(ClientDisconnect, OSError):
            await crowded_client.app(http_scope("/tasks", spec_version="2.4"), receive, send)
    await settle()
    assert len(produced_chunks) == 2


async def test_event_stream_clients_that_hang_up_are_unsubscribed(client):
    hub = client.app.state.system.events
    listeners = [HangingUpClient() for _ in range(100)]
    streams = [
        asyncio.create_task(client.app(http_scope("/events"), each.receive, each.send))
        for each in listeners
    ]
    await settle()
    assert await hub.ask(GetSubscriberCount()) == 100
    assert {each.messages[0]["status"] for each in listeners} == {200}
    for each in listeners:
        each.hang_up.set()
    async with asyncio.timeout(5):
        await asyncio.gather(*streams)
    await settle()
    assert await hub.ask(GetSubscriberCount()) == 0


async def test_an_event_stream_cancelled_by_the_server_leaves_no_task(client):
    """Uvicorn cancels what is still open when its graceful-shutdown timeout passes."""
    hub = client.app.state.system.events
    listener = HangingUpClient()
    before = asyncio.all_tasks()
    stream = asyncio.create_task(client.app(http_scope("/events"), listener.receive, listener.send))
    await settle()
    assert await hub.ask(GetSubscriberCount()) == 1
    stream.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stream
    await settle()
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    assert await hub.ask(GetSubscriberCount()) == 0
