"""Idempotent submissions: the same Idempotency-Key and body give the original task."""

from __future__ import annotations

import pytest
from support import SUM, FakeClock, sum_of

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


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
    response = await client.post("/tasks", json=sum_of(3), headers=headers)
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


async def test_the_same_key_with_other_options_is_a_conflict(client):
    headers = {"Idempotency-Key": "order-45"}
    first = await client.post("/tasks", json=SUM | {"priority": 1}, headers=headers)
    assert first.status_code == 202
    again = await client.post("/tasks", json=SUM | {"priority": 1}, headers=headers)
    assert again.status_code == 200
    other = await client.post("/tasks", json=SUM | {"priority": 2}, headers=headers)
    assert other.status_code == 409
