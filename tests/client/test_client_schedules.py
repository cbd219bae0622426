"""The clients' schedules and pause: the same answers as the HTTP API, as typed records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taskmanager.client import APIError, BadRequest, NotFound, Schedule, TaskStatus
from taskmanager.keys import file_line, new_key


async def test_put_get_list_and_delete_a_schedule(api, clock):
    made = await api.put_schedule(
        "nightly", "compute_sum", {"numbers": [1, 2]}, cron="0 3 * * *", timezone="Europe/Paris"
    )
    assert isinstance(made, Schedule)
    assert (made.cron, made.timezone, made.every) == ("0 3 * * *", "Europe/Paris", None)
    ticking = await api.put_schedule("tick", "compute_sum", {"numbers": [3]}, every=60, priority=4)
    assert ticking.next_run_at - ticking.created_at == timedelta(seconds=60)
    assert [s.name for s in await api.schedules()] == ["nightly", "tick"]
    await clock.advance(60)
    again = await api.get_schedule("tick")
    assert again.last_task_id is not None
    task = await api.get(again.last_task_id)
    assert (task.schedule, task.priority) == ("tick", 4)
    assert (await api.delete_schedule("tick")).name == "tick"
    with pytest.raises(NotFound):
        await api.get_schedule("tick")


async def test_a_bad_schedule_raises_bad_request_naming_the_field(api):
    with pytest.raises(BadRequest, match=r"^400: cron:"):
        await api.put_schedule("bad", "compute_sum", {"numbers": [1]}, cron="every day")


async def test_pause_and_resume(api, clock):
    assert await api.pause() is True
    task = await api.submit("compute_sum", {"numbers": [1]})
    await clock.advance(10)
    assert (await api.get(task.task_id)).status is TaskStatus.QUEUED
    assert await api.resume() is False
    await clock.advance(10)
    assert (await api.get(task.task_id)).status is TaskStatus.COMPLETED


async def test_pausing_with_a_client_key_raises_forbidden(make_api, tmp_path):
    key = new_key()
    keys = tmp_path / "keys"
    keys.write_text(file_line("alice", "client", key) + "\n")
    api = await make_api(api_keys_file=keys, client_options={"api_key": key})
    with pytest.raises(APIError) as refused:
        await api.pause()
    assert refused.value.status_code == 403


def test_the_sync_client_has_the_same_schedules_and_pause(live_server, make_sync_client):
    server = live_server()
    client = make_sync_client(server.url)
    made = client.put_schedule("tick", "compute_sum", {"numbers": [1]}, every=30)
    assert client.get_schedule("tick") == made
    assert client.schedules() == [made]
    assert client.pause() is True
    assert client.resume() is False
    assert client.delete_schedule("tick").name == "tick"
    assert client.schedules() == []
