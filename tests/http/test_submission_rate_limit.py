"""A submission and the rate limit: whatever the submission's own answer, the limit's
answer comes first (429, nothing created, not counted), and an admitted submission
says what is left of the window, on every backend and however it is answered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from support import SUM, FakeClock

from bench.redisstats import RedisStats
from taskmanager.actors.messages import BeginDrain, GetStoreStatus
from taskmanager.http.operations import MAX_BODY

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


@pytest.fixture(params=[True, False], ids=["fast-path", "routes"])
def fast_path(request) -> bool:
    return request.param


def idle(backend: str) -> dict[str, Any]:
    """No worker on Redis, where the store's counts are read a status at a time: a task
    that changed status between two reads would be counted twice or not at all."""
    return {"workers": 0} if backend == "redis" else {}


async def tasks_kept(client) -> int:
    status = await client.app.state.system.store.ask(GetStoreStatus())
    return sum(status.counts.values())


async def test_an_admitted_submission_says_what_is_left_and_a_refused_one_is_not_counted(
    make_client, clock: FakeClock, backend
):
    client = await make_client(rate_limit="3/minute", **idle(backend))
    first = await client.post("/tasks", json=SUM)
    assert first.status_code == 202
    assert first.headers["ratelimit-policy"] == '"default";q=3;w=60'
    assert first.headers["ratelimit"] == '"default";r=2;t=60'
    await clock.advance(20)
    assert (await client.post("/tasks", json=SUM)).headers["ratelimit"] == '"default";r=1;t=40'
    assert (await client.post("/tasks", json=SUM)).headers["ratelimit"] == '"default";r=0;t=40'
    refused = await client.post("/tasks", json=SUM)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "40"
    assert refused.headers["ratelimit"] == '"default";r=0;t=40'
    assert "rate limit" in refused.json()["detail"]
    assert "location" not in refused.headers
    assert await tasks_kept(client) == 3
    # The first request has left the window; the refused one was never in it.
    await clock.advance(40)
    again = await client.post("/tasks", json=SUM)
    assert again.status_code == 202
    assert again.headers["ratelimit"] == '"default";r=0;t=20'


KEY = {"Idempotency-Key": "order-1"}
# What a submission gets when the limit lets it through, after a first request that
# used half of a limit of two: the case's settings, that first request, the submission.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], int]] = {
    "accepted": ({}, {"json": SUM}, {"json": SUM}, 202),
    "invalid body": ({}, {"json": SUM}, {"json": {"task_type": "nope"}}, 400),
    "not json": (
        {},
        {"json": SUM},
        {"content": b"{}", "headers": {"content-type": "text/plain"}},
        415,
    ),
    "body too large": (
        {},
        {"json": SUM},
        {"content": b" " * (MAX_BODY + 1), "headers": {"content-type": "application/json"}},
        413,
    ),
    "malformed key": ({}, {"json": SUM}, {"json": SUM, "headers": {"Idempotency-Key": "a b"}}, 400),
    "unknown dependency": (
        {},
        {"json": SUM},
        {"json": SUM | {"depends_on": [str(uuid.uuid4())]}},
        400,
    ),
    "replay": ({}, {"json": SUM, "headers": KEY}, {"json": SUM, "headers": KEY}, 200),
    "key reused": (
        {},
        {"json": SUM, "headers": KEY},
        {"json": {**SUM, "priority": 3}, "headers": KEY},
        409,
    ),
    "store full": ({"max_tasks": 1}, {"json": SUM}, {"json": SUM}, 503),
}


@pytest.mark.parametrize("case", CASES)
async def test_over_the_limit_a_submission_gets_429_whatever_it_would_have_got(
    make_client, case, backend
):
    settings, first, submission, status = CASES[case]
    client = await make_client(rate_limit="2/minute", **idle(backend), **settings)
    assert (await client.post("/tasks", **first)).status_code == 202
    admitted = await client.post("/tasks", **submission)
    assert admitted.status_code == status, admitted.text
    assert admitted.headers["ratelimit"] == '"default";r=0;t=60'
    assert admitted.headers["ratelimit-policy"] == '"default";q=2;w=60'
    kept = await tasks_kept(client)
    refused = await client.post("/tasks", **submission)
    assert refused.status_code == 429, refused.text
    assert refused.headers["retry-after"] == "60"
    assert refused.headers["ratelimit"] == '"default";r=0;t=60'
    assert await tasks_kept(client) == kept


async def test_a_submission_while_shutting_down_is_counted_and_refused_like_any_other(
    make_client,
):
    client = await make_client(rate_limit="2/minute")
    assert (await client.post("/tasks", json=SUM)).status_code == 202
    await client.app.state.system.store.ask(BeginDrain())
    draining = await client.post("/tasks", json=SUM)
    assert draining.status_code == 503
    assert "shutting down" in draining.json()["detail"]
    assert draining.headers["ratelimit"] == '"default";r=0;t=60'
    refused = await client.post("/tasks", json=SUM)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"


@pytest.mark.backends("redis")
async def test_a_submission_on_redis_costs_one_script_in_one_round_trip(
    make_client, redis_url, clock: FakeClock
):
    """What an operator sees in Redis's slow log: the commands a replica sent for it."""
    client = await make_client(rate_limit="10/minute", workers=0)
    assert (await client.post("/tasks", json=SUM)).status_code == 202  # scripts loaded
    stats = RedisStats(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    try:
        stats.start_counting_round_trips()
        for _ in range(3):
            assert (await client.post("/tasks", json=SUM)).status_code == 202
        sent = stats.round_trips()
    finally:
        stats.close()
    # Other scripts the replica runs on its own (heartbeats, the reaper) left out.
    assert (sent["script submit"], sent["script ratelimit"]) == (3, 0), sent
