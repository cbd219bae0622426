"""Client (synchronous) against the real app served by uvicorn in a thread, fake clock."""

from __future__ import annotations

import uuid

import pytest

from taskmanager.client import (
    BadRequest,
    Conflict,
    NotFound,
    Task,
    TaskStatus,
    Unreachable,
)


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def client(server, make_sync_client):
    return make_sync_client(server.url)


def test_submit_get_wait_and_the_result(server, client):
    task = client.submit("compute_sum", {"numbers": [1, 2, 3.5]}, max_retries=1)
    assert isinstance(task, Task)
    assert task.max_retries == 1
    assert client.get(task.task_id).task_id == task.task_id
    server.advance(5)
    done = client.wait(task.task_id, timeout=10)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 6.5
    assert done.progress == 1.0


def test_wait_returns_the_unfinished_task_when_its_timeout_passes(live_server, make_sync_client):
    server = live_server(long_poll_timeout=0.05)
    client = make_sync_client(server.url)
    task = client.submit("compute_sum", {"numbers": [1]}, delay=3600)
    assert client.wait(task.task_id, timeout=0.2).status is TaskStatus.QUEUED


def test_a_long_poll_longer_than_the_client_timeout_is_cut_and_asked_again(
    live_server, make_sync_client
):
    server = live_server(long_poll_timeout=30)
    client = make_sync_client(server.url, timeout=0.3)
    task = client.submit("compute_sum", {"numbers": [1]}, delay=3600)
    # The server would hold each poll 30 s; the client cuts it at its own deadline.
    assert client.wait(task.task_id, timeout=0.5).status is TaskStatus.QUEUED


def test_submit_after_another_task_waits_until_it_completes(server, client):
    first = client.submit("compute_sum", {"numbers": [1]})
    second = client.submit("compute_sum", {"numbers": [2]}, depends_on=[first])
    assert second.waiting_for == (first.task_id,)
    server.advance(5)
    released = client.get(second.task_id)
    assert released.depends_on == (first.task_id,)
    assert released.waiting_for == ()
    server.advance(5)
    assert client.wait(second.task_id, timeout=10).status is TaskStatus.COMPLETED


def test_cancel_and_conflict(server, client):
    queued = client.submit("compute_sum", {"numbers": [1]}, delay=60)
    assert client.cancel(queued.task_id).status is TaskStatus.CANCELLED
    done = client.submit("compute_sum", {"numbers": [1]})
    server.advance(5)
    assert client.wait(done.task_id).status is TaskStatus.COMPLETED
    with pytest.raises(Conflict) as late:
        client.cancel(done.task_id)
    assert late.value.task is not None
    assert late.value.task.status is TaskStatus.COMPLETED


def test_list_follows_the_pages(client):
    ids = [client.submit("compute_sum", {"numbers": [n]}, delay=60).task_id for n in range(7)]
    assert [task.task_id for task in client.list(page_size=3)] == ids
    assert [task.task_id for task in client.list(order="newest", page_size=2)] == ids[::-1]


def test_errors(client):
    with pytest.raises(NotFound):
        client.get(uuid.uuid4())
    with pytest.raises(NotFound):
        client.cancel(uuid.uuid4())
    with pytest.raises(BadRequest) as bad:
        client.submit("generate_report", {"title": ""})
    assert "title" in bad.value.detail


def test_a_server_that_is_not_there_is_unreachable(make_sync_client):
    slept: list[float] = []
    client = make_sync_client("http://127.0.0.1:9", sleep=slept.append, retries=1)
    with pytest.raises(Unreachable) as failed:
        client.get(uuid.uuid4())
    assert "127.0.0.1:9" in failed.value.detail
    assert slept == [0.25]


def test_a_url_that_is_not_http_is_refused_at_once(make_sync_client):
    with pytest.raises(ValueError, match="http"):
        make_sync_client("ftp://example.invalid")
