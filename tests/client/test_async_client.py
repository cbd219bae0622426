"""AsyncClient against the real app on its ASGI transport, with a fake clock."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from support import settle

from taskmanager.client import (
    BadRequest,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Task,
    TaskStatus,
)


async def test_submit_returns_the_queued_task_with_its_options(api):
    task = await api.submit(
        "compute_sum", {"numbers": [1, 2, 3]}, priority=7, delay=30, timeout=9, max_retries=2
    )
    assert isinstance(task, Task)
    assert task.task_type == "compute_sum"
    assert task.status is TaskStatus.QUEUED
    assert task.parameters.numbers == [1, 2, 3]
    assert (task.priority, task.timeout, task.max_retries) == (7, 9, 2)
    assert (task.run_at - task.created_at).total_seconds() == 30
    assert await api.get(task.task_id) == task


async def test_submit_sends_a_fresh_idempotency_key_each_time_unless_given_one(api):
    first = await api.submit("compute_sum", {"numbers": [1]})
    second = await api.submit("compute_sum", {"numbers": [1]})
    assert first.task_id != second.task_id
    posts = [r for r in api.recorder.requests if r.method == "POST"]
    keys = [r.headers["idempotency-key"] for r in posts]
    assert len(set(keys)) == 2

    again = await api.submit("compute_sum", {"numbers": [1]}, idempotency_key=keys[0])
    assert again.task_id == first.task_id


async def test_wait_holds_one_long_poll_until_the_task_finishes(api, clock):
    task = await api.submit("compute_sum", {"numbers": [1, 2, 3]})
    sent_before = len(api.recorder.requests)
    waiting = asyncio.create_task(api.wait(task.task_id))
    await settle()
    # Processing already (the worker took it); the poll is held until the status changes.
    assert not waiting.done()
    polls = api.recorder.requests[sent_before:]
    assert all(r.url.params["wait"] == "true" for r in polls)
    held = len(polls)
    assert held <= 2
    await settle()
    assert len(api.recorder.requests) - sent_before == held  # no busy loop while held
    await clock.advance(5)
    finished = await waiting
    assert finished.status is TaskStatus.COMPLETED
    assert finished.result == 6


async def test_wait_gives_the_task_as_it_is_when_its_timeout_passes(make_api):
    api = await make_api(long_poll_timeout=0.02)
    task = await api.submit("compute_sum", {"numbers": [1]}, delay=3600)
    still = await api.wait(task.task_id, timeout=0.1)
    assert still.status is TaskStatus.QUEUED
    polls = [r for r in api.recorder.requests if r.url.params.get("wait") == "true"]
    # Each poll is held by the server (20 ms here): a handful, never a spin.
    assert 1 <= len(polls) <= 10


async def test_cancel_returns_the_cancelled_task_and_a_second_cancel_is_fine(api):
    task = await api.submit("compute_sum", {"numbers": [1]}, delay=3600)
    cancelled = await api.cancel(task.task_id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert (await api.cancel(task.task_id)).status is TaskStatus.CANCELLED


async def test_cancelling_a_finished_task_raises_conflict_carrying_the_task(api, clock):
    task = await api.submit("compute_sum", {"numbers": [2, 3]})
    await clock.advance(5)
    with pytest.raises(Conflict) as raised:
        await api.cancel(task.task_id)
    assert raised.value.status_code == 409
    assert "already completed" in raised.value.detail
    assert raised.value.task is not None
    assert raised.value.task.task_id == task.task_id
    assert raised.value.task.result == 5


async def test_reusing_an_idempotency_key_for_another_body_is_a_conflict_without_a_task(api):
    await api.submit("compute_sum", {"numbers": [1]}, idempotency_key="same")
    with pytest.raises(Conflict) as raised:
        await api.submit("compute_sum", {"numbers": [2]}, idempotency_key="same")
    assert raised.value.task is None
    assert "Idempotency-Key" in raised.value.detail


async def test_submit_after_other_tasks_given_as_ids_or_tasks_waits_for_them(api, clock):
    first = await api.submit("compute_sum", {"numbers": [1, 2]})
    second = await api.submit("compute_sum", {"numbers": [3]}, depends_on=[first.task_id])
    third = await api.submit(
        "compute_sum", {"numbers": [4]}, depends_on=[first, str(second.task_id), second]
    )
    assert second.status is TaskStatus.QUEUED
    assert second.depends_on == second.waiting_for == (first.task_id,)
    assert third.depends_on == (first.task_id, second.task_id)
    await clock.advance(5)  # the first completes: the second is released
    assert (await api.get(second.task_id)).waiting_for == ()
    assert (await api.get(third.task_id)).waiting_for == (second.task_id,)
    assert (await api.get(first.task_id)).depends_on == ()


async def test_a_task_after_one_that_fails_is_cancelled_as_dependency_failed(api, clock):
    failing = await api.submit("compute_sum", {"numbers": [1]}, delay=60)
    waiting = await api.submit("compute_sum", {"numbers": [1]}, depends_on=[failing])
    await api.cancel(failing.task_id)
    cancelled = await api.get(waiting.task_id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.error is not None
    assert cancelled.error.type == "dependency_failed"
    assert str(failing.task_id) in cancelled.error.message


async def test_one_task_given_as_depends_on_rather_than_a_list_is_refused_before_sending(api):
    first = await api.submit("compute_sum", {"numbers": [1]}, delay=60)
    sent = len(api.recorder.requests)
    for single in (first, first.task_id, str(first.task_id)):
        with pytest.raises(TypeError, match="depends_on takes a list"):
            await api.submit("compute_sum", {"numbers": [1]}, depends_on=single)
    assert len(api.recorder.requests) == sent


async def test_a_dependency_that_does_not_exist_is_a_bad_request(api):
    missing = uuid.uuid4()
    with pytest.raises(BadRequest) as raised:
        await api.submit("compute_sum", {"numbers": [1]}, depends_on=[missing])
    assert raised.value.detail == f"depends_on: task {missing} not found"


async def test_list_filters_and_orders_like_the_server(api):
    sums = [(await api.submit("compute_sum", {"numbers": [n]}, delay=60)).task_id for n in (1, 2)]
    report = await api.submit("generate_report", {"title": "t"}, delay=60)
    listed = [task.task_id async for task in api.list(task_type="compute_sum", page_size=1)]
    assert listed == sums
    newest = [task.task_id async for task in api.list(order="newest")]
    assert newest == [report.task_id, *sums[::-1]]
    assert [task async for task in api.list(status="completed")] == []


async def test_errors_carry_the_servers_detail(api):
    with pytest.raises(NotFound) as missing:
        await api.get(uuid.uuid4())
    assert missing.value.status_code == 404
    assert "not found" in missing.value.detail
    with pytest.raises(BadRequest) as malformed:
        await api.get("not-a-uuid")
    assert "task_id" in malformed.value.detail
    with pytest.raises(BadRequest) as wrong:
        await api.submit("compute_sum", {"numbers": ["one"]})
    assert wrong.value.detail.startswith("parameters.numbers.0")
    with pytest.raises(BadRequest) as unknown:
        await api.submit("no_such_type")
    assert "task_type" in unknown.value.detail
    with pytest.raises(BadRequest):
        [task async for task in api.list(status="sleeping")]


async def test_a_full_store_is_service_unavailable_with_retry_after_once_retries_are_spent(
    make_api,
):
    api = await make_api(max_tasks=1, client_options={"retries": 0})
    await api.submit("compute_sum", {"numbers": [1]}, delay=3600)
    with pytest.raises(ServiceUnavailable) as full:
        await api.submit("compute_sum", {"numbers": [2]})
    assert full.value.status_code == 503
    assert full.value.retry_after is not None
    assert full.value.retry_after >= 1
    assert "full" in full.value.detail


async def test_leaving_the_async_with_block_closes_the_client(make_api):
    api = await make_api()
    async with api:
        task = await api.submit("compute_sum", {"numbers": [1]})
    with pytest.raises(RuntimeError, match="closed"):
        await api.get(task.task_id)


async def test_submit_is_one_request_and_cannot_fail_once_the_task_exists(make_api):
    # One request a minute, and no waiting out a 429: a second request would fail.
    api = await make_api(client_options={"retry_budget": 0}, rate_limit="1/minute")
    task = await api.submit("compute_sum", {"numbers": [1, 2]})
    assert task.status is TaskStatus.QUEUED
    assert task.parameters.numbers == [1, 2]
    assert [request.method for request in api.recorder.requests] == ["POST"]


async def test_openapi_is_the_services_document_with_its_task_types(api):
    document = await api.openapi()
    assert document["components"]["schemas"]["TaskType"]["enum"] == [
        "compute_sum",
        "generate_report",
        "simulate_error",
    ]
