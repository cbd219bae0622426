"""Pausing the queue: no attempt starts while paused; running ones go on; submissions too."""

from __future__ import annotations

import asyncio

import pytest
from support import REPORT, SUM, FakeClock, settle, submit, sum_of

from taskmanager.keys import file_line, new_key

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")

KEYS = {"alice": new_key(), "root": new_key()}
ALICE = {"Authorization": f"Bearer {KEYS['alice']}"}
ROOT = {"Authorization": f"Bearer {KEYS['root']}"}


async def statuses(client, ids: list[str]) -> list[str]:
    return [(await client.get(f"/tasks/{task_id}")).json()["status"] for task_id in ids]


async def test_while_paused_no_attempt_starts_running_ones_go_on_and_submissions_are_taken(
    make_client, clock: FakeClock
):
    client = await make_client(workers=2)
    first = [await submit(client) for _ in range(6)]
    await settle()
    assert (await statuses(client, first))[:2] == ["processing", "processing"]
    paused = await client.post("/queue/pause")
    assert paused.status_code == 200
    assert paused.json() == {"paused": True}
    later = [await submit(client) for _ in range(4)]  # accepted while paused
    await clock.advance(5)  # the two running attempts end
    await clock.advance(60)
    assert await statuses(client, first + later) == ["completed"] * 2 + ["queued"] * 8
    stats = (await client.get("/stats")).json()
    assert stats["paused"] is True
    assert stats["workers"]["busy"] == 0
    assert stats["counts"]["queued"] == 8
    assert all(t["started_at"] is None for t in (await client.get("/tasks")).json()[2:])
    resumed = await client.post("/queue/resume")
    assert resumed.json() == {"paused": False}
    await clock.advance(2)  # within a second on Redis: the replica that resumed starts at once
    assert (await statuses(client, first + later))[2:4] == ["processing", "processing"]
    for _ in range(4):
        await clock.advance(5)
    assert await statuses(client, first + later) == ["completed"] * 10
    assert (await client.get("/stats")).json()["paused"] is False


async def test_a_pause_in_the_middle_of_a_flood_holds_every_task_not_started_yet(
    make_client, clock: FakeClock
):
    client = await make_client(workers=5, rate_limit="10000/minute")

    async def flood(count: int) -> list[str]:
        return list(await asyncio.gather(*(submit(client, SUM) for _ in range(count))))

    during = asyncio.ensure_future(flood(60))
    await asyncio.sleep(0)  # submissions in flight as the pause lands
    assert (await client.post("/queue/pause")).json() == {"paused": True}
    ids = await during + await flood(60)
    await settle()
    before = await statuses(client, ids)
    assert before.count("processing") <= 5
    await clock.advance(5)
    await clock.advance(60)
    after = await statuses(client, ids)
    assert after.count("completed") == before.count("processing")
    assert after.count("queued") == len(ids) - after.count("completed")
    await client.post("/queue/resume")
    for _ in range(30):
        await clock.advance(5)
    assert await statuses(client, ids) == ["completed"] * len(ids)


async def test_a_queued_task_does_not_start_when_a_worker_frees_up_while_paused(
    make_client, clock: FakeClock
):
    client = await make_client(workers=1)
    blocker = await submit(client, REPORT)  # 10 s
    await settle()
    waiting = await submit(client)
    await client.post("/queue/pause")
    await clock.advance(15)
    assert await statuses(client, [blocker, waiting]) == ["completed", "queued"]


async def test_pausing_and_resuming_twice_is_fine_and_the_metrics_show_it(client):
    for _ in range(2):
        assert (await client.post("/queue/pause")).json() == {"paused": True}
    assert "taskmanager_queue_paused 1" in (await client.get("/metrics")).text
    for _ in range(2):
        assert (await client.post("/queue/resume")).json() == {"paused": False}
    assert "taskmanager_queue_paused 0" in (await client.get("/metrics")).text


async def test_a_cancelled_task_of_a_paused_queue_is_cancelled(client, clock: FakeClock):
    await client.post("/queue/pause")
    task_id = await submit(client, sum_of(1))
    assert (await client.delete(f"/tasks/{task_id}")).json()["status"] == "cancelled"
    await client.post("/queue/resume")
    await clock.advance(10)
    assert (await client.get(f"/tasks/{task_id}")).json()["status"] == "cancelled"


async def test_with_api_keys_only_an_admin_may_pause_or_resume(make_client, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(
        f"{file_line('alice', 'client', KEYS['alice'])}\n"
        f"{file_line('root', 'admin', KEYS['root'])}\n"
    )
    client = await make_client(api_keys_file=keys)
    assert (await client.post("/queue/pause")).status_code == 401
    refused = await client.post("/queue/pause", headers=ALICE)
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    assert (await client.get("/stats", headers=ALICE)).json()["paused"] is False
    assert (await client.post("/queue/pause", headers=ROOT)).json() == {"paused": True}
    assert (await client.get("/stats", headers=ALICE)).json()["paused"] is True
    assert (await client.post("/queue/resume", headers=ALICE)).status_code == 403
    assert (await client.post("/queue/resume", headers=ROOT)).json() == {"paused": False}


async def test_the_scheduled_tasks_of_a_paused_queue_are_made_and_wait(client, clock):
    await client.post("/queue/pause")
    await client.put("/schedules/tick", json={**SUM, "every": 10})
    await clock.advance(10)
    (made,) = [t for t in (await client.get("/tasks")).json() if t["schedule"] == "tick"]
    assert made["status"] == "queued"


async def test_get_on_pause_is_405_naming_post_even_with_the_monitor_served_at_the_root(
    make_client, tmp_path
):
    (tmp_path / "index.html").write_text("<!doctype html><title>monitor</title>")
    client = await make_client(web_dir=tmp_path)
    assert (await client.get("/")).status_code == 200
    for path in ("/queue/pause", "/queue/resume"):
        response = await client.get(path)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
    assert (await client.get("/no-such-file")).status_code == 404
