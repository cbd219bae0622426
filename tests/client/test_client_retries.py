"""429 and 503 are waited out as Retry-After says, within the budget; on a fake clock.

The clients sleep by moving the server's fake clock, so the rate limiter sees the wait
at once and the tests take no real time.
"""

from __future__ import annotations

import httpx
import pytest

from taskmanager.client import AsyncClient, RateLimited, TaskStatus, Unreachable

ONE_PER_MINUTE = {"rate_limit": "1/minute"}


@pytest.fixture
async def limited(make_api, clock):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await clock.advance(seconds)

    api = await make_api(client_options={"sleep": sleep}, **ONE_PER_MINUTE)
    api.slept = slept
    return api


async def test_a_429_is_retried_after_retry_after_and_then_succeeds(limited):
    task = await limited.submit("compute_sum", {"numbers": [1]})  # the one request allowed
    again = await limited.get(task.task_id)  # 429, wait 60 s, then answered
    assert again.task_id == task.task_id
    assert limited.slept == [60]
    statuses = [r for r in limited.recorder.requests if r.method == "GET"]
    assert len(statuses) == 2  # the refused GET was sent again once


async def test_a_retried_submission_sends_the_same_idempotency_key_and_makes_one_task(
    limited,
):
    await limited.submit("compute_sum", {"numbers": [1]})
    second = await limited.submit("compute_sum", {"numbers": [2]})
    posts = [r for r in limited.recorder.requests if r.method == "POST"]
    assert len(posts) == 3  # the second submission was refused once, then sent again
    assert posts[1].headers["idempotency-key"] == posts[2].headers["idempotency-key"]
    assert limited.slept  # it waited
    tasks = [task async for task in limited.list()]
    assert [task.task_id for task in tasks][-1] == second.task_id
    assert len(tasks) == 2


async def test_a_retry_after_beyond_the_budget_raises_at_once_with_retry_after(make_api, clock):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await clock.advance(seconds)

    api = await make_api(client_options={"sleep": sleep, "retry_budget": 30}, **ONE_PER_MINUTE)
    task = await api.submit("compute_sum", {"numbers": [1]})
    with pytest.raises(RateLimited) as refused:
        await api.get(task.task_id)
    assert refused.value.retry_after == 60
    assert refused.value.status_code == 429
    assert "rate limit" in refused.value.detail
    assert slept == []


async def test_retries_stop_after_the_configured_count(make_api, clock):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)  # the clock does not move: every retry is refused again

    options = {"sleep": sleep, "retries": 2, "retry_budget": 1000}
    api = await make_api(client_options=options, **ONE_PER_MINUTE)
    task = await api.submit("compute_sum", {"numbers": [1]})
    with pytest.raises(RateLimited):
        await api.get(task.task_id)
    assert slept == [60, 60]
    assert len([r for r in api.recorder.requests if r.method == "GET"]) == 3


async def test_with_retries_off_a_429_raises_at_once(make_api):
    api = await make_api(client_options={"retries": 0}, **ONE_PER_MINUTE)
    task = await api.submit("compute_sum", {"numbers": [1]})
    with pytest.raises(RateLimited) as refused:
        await api.wait(task.task_id)
    assert refused.value.retry_after == 60


async def test_a_refused_connection_is_tried_again_with_backoff_then_unreachable():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with AsyncClient(
        "http://127.0.0.1:9", transport=httpx.MockTransport(refuse), sleep=sleep
    ) as api:
        with pytest.raises(Unreachable) as failed:
            await api.get("3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65")
    assert slept == [0.25, 0.5, 1.0]
    assert "connection refused" in failed.value.detail
    assert not failed.value.timed_out


def test_the_sync_client_waits_out_a_429_on_the_servers_fake_clock(live_server, make_sync_client):
    server = live_server(**ONE_PER_MINUTE)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        server.advance(seconds)

    client = make_sync_client(server.url, sleep=sleep)
    task = client.submit("compute_sum", {"numbers": [4, 5]})
    assert task.status in {TaskStatus.QUEUED, TaskStatus.PROCESSING}
    again = client.get(task.task_id)  # refused, waited out on the fake clock
    assert slept == [60]
    assert again.task_id == task.task_id
