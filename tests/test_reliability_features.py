"""Idempotent submissions and the drain that graceful shutdown starts with."""

from __future__ import annotations

import asyncio

from support import FakeClock, settle

from taskmanager.actors.messages import GetStoreStatus

SUM = {"task_type": "compute_sum", "parameters": {"numbers": [1, 2]}}


async def test_the_same_key_and_body_return_the_original_task(client):
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/tasks", json=SUM, headers=headers)
    again = await client.post("/tasks", json=SUM, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["task_id"] == first.json()["task_id"]
    assert again.headers["location"] == first.headers["location"]
    listed = (await client.get("/tasks")).json()
    assert len(listed) == 1


async def test_the_same_key_with_another_body_is_a_conflict(client):
    headers = {"Idempotency-Key": "order-43"}
    await client.post("/tasks", json=SUM, headers=headers)
    other = {"task_type": "compute_sum", "parameters": {"numbers": [3]}}
    response = await client.post("/tasks", json=other, headers=headers)
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["detail"]


async def test_a_key_expires_with_its_task(make_client, clock: FakeClock):
    client = await make_client(result_ttl=60)
    headers = {"Idempotency-Key": "order-44"}
    first = await client.post("/tasks", json=SUM, headers=headers)
    await clock.advance(5 + 61)
    again = await client.post("/tasks", json=SUM, headers=headers)
    assert again.status_code == 202
    assert again.json()["task_id"] != first.json()["task_id"]


async def test_a_malformed_key_answers_400(client):
    response = await client.post("/tasks", json=SUM, headers={"Idempotency-Key": "a b"})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


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
