"""The whole actor system in memory: the drain that graceful shutdown starts with.

With Redis a drain cancels nothing; tests/scaleout covers that."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import SUM, FakeClock, settle, submit_to

from taskmanager.actors.messages import BeginDrain, GetStoreStatus
from taskmanager.actors.runtime import DEFAULT_MAILBOX_SIZE
from taskmanager.actors.store import TaskStore


async def test_draining_refuses_new_tasks_and_answers_waiting_clients(client, clock: FakeClock):
    system = client.app.state.system
    running = (await client.post("/tasks", json=SUM)).json()["task_id"]
    await settle()
    waiting = asyncio.create_task(client.get(f"/tasks/{running}", params={"wait": "true"}))
    await settle()
    assert (await system.store.ask(GetStoreStatus())).waiters == 1
    system.begin_shutdown()
    response = await asyncio.wait_for(waiting, 5)
    assert response.json()["status"] == "processing"
    refused = await client.post("/tasks", json=SUM)
    assert refused.status_code == 503
    assert refused.headers["retry-after"]
    assert "shutting down" in refused.json()["detail"]


async def test_draining_cancels_queued_tasks_and_gives_running_ones_the_grace(
    make_client, clock: FakeClock
):
    client = await make_client(workers=1, shutdown_grace=5)
    system = client.app.state.system
    running = (await client.post("/tasks", json=SUM)).json()["task_id"]
    queued = (await client.post("/tasks", json=SUM)).json()["task_id"]
    await settle()
    system.begin_shutdown()
    await settle()
    assert (await client.get(f"/tasks/{queued}")).json()["status"] == "cancelled"
    await clock.advance(5)  # the running task finishes inside the grace period
    assert (await client.get(f"/tasks/{running}")).json()["status"] == "completed"


async def test_draining_cancels_each_waiting_task_once_and_leaves_the_counts_right(
    make_client, clock: FakeClock
):
    client = await make_client(workers=1, shutdown_grace=5)
    system = client.app.state.system
    running = (await client.post("/tasks", json=SUM)).json()["task_id"]
    queued = (await client.post("/tasks", json=SUM)).json()["task_id"]
    chain = [queued]
    for _ in range(3):
        body = {**SUM, "depends_on": [chain[-1]]}
        chain.append((await client.post("/tasks", json=body)).json()["task_id"])
    await settle()
    system.begin_shutdown()
    await settle()
    for task_id in chain:
        assert (await client.get(f"/tasks/{task_id}")).json()["status"] == "cancelled"
    await clock.advance(5)
    assert (await client.get(f"/tasks/{running}")).json()["status"] == "completed"
    status = await system.store.ask(GetStoreStatus())
    assert (status.counts["queued"], status.counts["cancelled"]) == (0, 4)
    assert status.finished_total["cancelled"] == 4


async def test_a_drain_that_fails_still_ends_with_every_actor_stopped(
    make_client, monkeypatch, caplog
):
    client = await make_client(shutdown_grace=5)
    system = client.app.state.system
    await client.post("/tasks", json=SUM)
    real_receive = TaskStore.receive

    async def receive(self, message):
        if isinstance(message, BeginDrain):
            raise TimeoutError("the store did not answer in time")
        return await real_receive(self, message)

    monkeypatch.setattr(TaskStore, "receive", receive)
    caplog.set_level(logging.ERROR, logger="taskmanager")
    await system.shutdown()
    assert not any(actor.alive for actor in system.actors)
    assert "the drain did not finish" in caplog.text


@pytest.mark.slow
async def test_a_drain_cancelling_more_tasks_than_a_mailbox_holds_still_finishes(
    make_client, caplog
):
    # Each cancelled task is a message to the dispatcher: more of them than the bound on
    # waiting asks must not make the drain's own question to it refused.
    client = await make_client()
    system = client.app.state.system
    for _ in range(2 * DEFAULT_MAILBOX_SIZE):
        await submit_to(system, delay=3600)
    caplog.set_level(logging.WARNING, logger="taskmanager")
    await system.shutdown()
    assert "the drain did not finish" not in caplog.text
