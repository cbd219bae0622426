"""API keys: the client sends its key as a Bearer token; without a valid one, Unauthorized."""

from __future__ import annotations

import pytest

from taskmanager.client import AsyncClient, NotFound, Unauthorized
from taskmanager.keys import file_line, new_key

KEYS = {"alice": new_key(), "bob": new_key()}


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text("".join(f"{file_line(name, 'client', key)}\n" for name, key in KEYS.items()))
    return path


async def test_without_a_key_or_with_a_wrong_one_every_call_is_unauthorized(make_api, keys_file):
    for options in ({}, {"api_key": "tm_wrong"}):
        api = await make_api(api_keys_file=keys_file, client_options=options)
        with pytest.raises(Unauthorized) as refused:
            await api.submit("compute_sum", {"numbers": [1]})
        assert refused.value.status_code == 401
        assert "Bearer" in refused.value.detail
        with pytest.raises(Unauthorized):
            [task async for task in api.list()]


async def test_a_key_sees_its_own_tasks_and_another_keys_are_not_found(make_api, keys_file):
    alice = await make_api(api_keys_file=keys_file, client_options={"api_key": KEYS["alice"]})
    task = await alice.submit("compute_sum", {"numbers": [1]}, delay=60)
    assert (await alice.get(task.task_id)).task_id == task.task_id
    assert alice.recorder.requests[0].headers["authorization"] == f"Bearer {KEYS['alice']}"
    # Bob's client talks to the same app.
    async with AsyncClient(
        "http://testserver", transport=alice.recorder, api_key=KEYS["bob"]
    ) as bob:
        with pytest.raises(NotFound):
            await bob.get(task.task_id)
        assert [t async for t in bob.list()] == []
        await bob.submit("compute_sum", {"numbers": [2]}, delay=60)
    assert [t.task_id async for t in alice.list()] == [task.task_id]


def test_the_sync_client_and_the_event_stream_send_the_key(
    live_server, make_sync_client, keys_file
):
    server = live_server(api_keys_file=keys_file)
    with pytest.raises(Unauthorized):
        next(make_sync_client(server.url).events())
    client = make_sync_client(server.url, api_key=KEYS["alice"])
    with client.subscribe() as subscription:
        task = client.submit("compute_sum", {"numbers": [1]}, delay=60)
        assert subscription.next().task_id == task.task_id
