"""Schedules over HTTP: due times, one task per due time, the task body's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import EPOCH, SUM, FakeClock, sum_of

from taskmanager.keys import file_line, new_key

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


def every(seconds: int, body: dict | None = None, **extra) -> dict:
    return {**(body or SUM), "every": seconds, **extra}


def at(text: str) -> str:
    """A moment as the API writes it."""
    return datetime.fromisoformat(text).astimezone(UTC).isoformat().replace("+00:00", "Z")


def moment(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


async def scheduled_tasks(client, name: str) -> list[dict]:
    response = await client.get("/tasks")
    assert response.status_code == 200
    return [task for task in response.json() if task["schedule"] == name]


async def test_an_every_schedule_makes_one_task_at_each_due_time(client, clock: FakeClock):
    created = await client.put("/schedules/tick", json=every(60))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/schedules/tick"
    schedule = created.json()
    assert schedule["name"] == "tick"
    assert schedule["every"] == 60
    assert schedule["next_run_at"] == moment(60)
    assert schedule["last_task_id"] is None
    await clock.advance(59)
    assert await scheduled_tasks(client, "tick") == []
    await clock.advance(1)
    (first,) = await scheduled_tasks(client, "tick")
    assert first["parameters"] == SUM["parameters"]
    assert first["created_at"] == moment(60)
    schedule = (await client.get("/schedules/tick")).json()
    assert schedule["last_task_id"] == first["task_id"]
    assert schedule["last_run_at"] == moment(60)
    assert schedule["next_run_at"] == moment(120)
    await clock.advance(60)
    tasks = await scheduled_tasks(client, "tick")
    assert [task["created_at"] for task in tasks] == [moment(60), moment(120)]
    assert tasks[0]["status"] == "completed"


async def test_a_scheduled_task_carries_its_schedule_and_others_carry_none(client, clock):
    await client.put("/schedules/nightly", json=every(10, sum_of(4, 5, priority=3)))
    plain = (await client.post("/tasks", json=SUM)).json()["task_id"]
    await clock.advance(10)
    (made,) = await scheduled_tasks(client, "nightly")
    assert made["priority"] == 3
    assert (await client.get(f"/tasks/{made['task_id']}")).json()["schedule"] == "nightly"
    assert (await client.get(f"/tasks/{plain}")).json()["schedule"] is None


async def test_putting_a_schedule_again_replaces_it_and_starts_its_due_times_from_now(
    client, clock: FakeClock
):
    assert (await client.put("/schedules/tick", json=every(60))).status_code == 201
    await clock.advance(60)
    await clock.advance(30)
    replaced = await client.put("/schedules/tick", json=every(600, sum_of(7)))
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["every"] == 600
    assert body["parameters"] == {"numbers": [7]}
    assert body["next_run_at"] == moment(690)
    assert body["last_task_id"] is not None  # what it made before stays known
    await clock.advance(120)
    assert len(await scheduled_tasks(client, "tick")) == 1  # the old due times are gone


async def test_schedules_are_listed_by_name_read_and_deleted(client, clock: FakeClock):
    for name in ("b-report", "a_sum", "c1"):
        await client.put(f"/schedules/{name}", json=every(30))
    listed = (await client.get("/schedules")).json()
    assert [schedule["name"] for schedule in listed] == ["a_sum", "b-report", "c1"]
    deleted = await client.delete("/schedules/b-report")
    assert deleted.status_code == 200
    assert deleted.json()["name"] == "b-report"
    assert (await client.get("/schedules/b-report")).status_code == 404
    assert (await client.delete("/schedules/b-report")).status_code == 404
    assert [s["name"] for s in (await client.get("/schedules")).json()] == ["a_sum", "c1"]
    await clock.advance(30)
    made = {task["schedule"] for task in (await client.get("/tasks")).json()}
    assert made == {"a_sum", "c1"}


async def test_an_unknown_schedule_is_404(client):
    response = await client.get("/schedules/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "schedule nothing-here not found"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/schedules/Upper", every(60), "name"),
        ("/schedules/" + "x" * 101, every(60), "name"),
        ("/schedules/a.b", every(60), "name"),
        ("/schedules/ok", every(0), "every"),
        ("/schedules/ok", every(86_401), "every"),
        ("/schedules/ok", every(1.5), "every"),
        ("/schedules/ok", SUM, "every"),
        ("/schedules/ok", every(60, cron="* * * * *"), "cron"),
        ("/schedules/ok", {**SUM, "cron": "61 * * * *"}, "cron"),
        ("/schedules/ok", {**SUM, "cron": "* * *"}, "cron"),
        ("/schedules/ok", {**SUM, "cron": "* * * * * *"}, "cron"),
        ("/schedules/ok", {**SUM, "cron": "@daily"}, "cron"),
        ("/schedules/ok", {**SUM, "cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ("/schedules/ok", {**SUM, "cron": "0 6 * * *", "timezone": "../etc/passwd"}, "timezone"),
        ("/schedules/ok", every(60, timezone="UTC"), "timezone"),
        ("/schedules/ok", every(60, {"task_type": "nope", "parameters": {}}), "task_type"),
        ("/schedules/ok", every(60, {"task_type": "compute_sum"}), "parameters"),
        ("/schedules/ok", every(60, sum_of(1, priority=10)), "priority"),
        ("/schedules/ok", every(60, sum_of(1), colour="red"), "colour"),
    ],
)
async def test_a_bad_schedule_is_400_naming_the_field(client, path, body, field):
    response = await client.put(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}:"), response.json()
    assert (await client.get("/schedules")).json() == []


async def test_a_schedule_body_that_is_not_json_is_415_and_broken_json_400(client):
    text = await client.put("/schedules/ok", content=b"every=60")
    assert text.status_code == 415
    broken = await client.put(
        "/schedules/ok", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400


async def test_a_cron_schedule_runs_in_its_time_zone_across_spring_forward(
    make_client, clock: FakeClock
):
    # 2026-03-08 in New York: at 02:00 EST the clocks go to 03:00 EDT; 02:30 never happens.
    await clock.advance((datetime(2026, 3, 8, 6, 59, tzinfo=UTC) - EPOCH).total_seconds())
    client = await make_client()
    body = {**SUM, "cron": "30 2 * * *", "timezone": "America/New_York"}
    schedule = (await client.put("/schedules/early", json=body)).json()
    assert schedule["timezone"] == "America/New_York"
    # The skipped 02:30 runs right after the change, at 03:00 EDT.
    assert schedule["next_run_at"] == at("2026-03-08T03:00:00-04:00")
    await clock.advance(60)
    (made,) = await scheduled_tasks(client, "early")
    assert made["created_at"] == at("2026-03-08T03:00:00-04:00")
    after = (await client.get("/schedules/early")).json()
    assert after["next_run_at"] == at("2026-03-09T02:30:00-04:00")


async def test_a_cron_schedule_runs_once_in_the_hour_that_falls_back(make_client, clock: FakeClock):
    # 2026-11-01 in New York: 01:00 to 02:00 happens twice (EDT, then EST).
    await clock.advance((datetime(2026, 11, 1, 5, 29, tzinfo=UTC) - EPOCH).total_seconds())
    client = await make_client()
    body = {**SUM, "cron": "30 1 * * *", "timezone": "America/New_York"}
    schedule = (await client.put("/schedules/late", json=body)).json()
    assert schedule["next_run_at"] == at("2026-11-01T01:30:00-04:00")
    await clock.advance(60)
    assert len(await scheduled_tasks(client, "late")) == 1
    after = (await client.get("/schedules/late")).json()
    # Not again at 01:30 EST an hour later: the next day.
    assert after["next_run_at"] == at("2026-11-02T01:30:00-05:00")


async def test_due_times_missed_while_suspended_are_made_up_once(client, clock: FakeClock):
    await client.put("/schedules/tick", json=every(60))
    await clock.advance(60)
    await clock.jump(600)  # ten due times pass while nothing runs
    tasks = await scheduled_tasks(client, "tick")
    assert [task["created_at"] for task in tasks] == [moment(60), moment(660)]
    schedule = (await client.get("/schedules/tick")).json()
    assert schedule["next_run_at"] == moment(720)


async def test_schedule_requests_count_against_the_rate_limit(make_client):
    client = await make_client(rate_limit="2/minute")
    assert (await client.put("/schedules/a", json=every(60))).status_code == 201
    assert (await client.get("/schedules")).status_code == 200
    refused = await client.get("/schedules/a")
    assert refused.status_code == 429
    assert "retry-after" in refused.headers


async def test_with_api_keys_a_schedule_and_its_tasks_belong_to_the_key_that_made_it(
    make_client, tmp_path, clock: FakeClock
):
    keys = {"alice": new_key(), "bob": new_key(), "root": new_key()}
    path = tmp_path / "keys"
    path.write_text(
        f"{file_line('alice', 'client', keys['alice'])}\n"
        f"{file_line('bob', 'client', keys['bob'])}\n"
        f"{file_line('root', 'admin', keys['root'])}\n"
    )
    alice, bob, root = ({"Authorization": f"Bearer {keys[n]}"} for n in ("alice", "bob", "root"))
    client = await make_client(api_keys_file=path)
    assert (await client.put("/schedules/mine", json=every(60))).status_code == 401
    assert (await client.put("/schedules/mine", json=every(60), headers=alice)).status_code == 201
    # Another client key neither sees nor changes it.
    assert (await client.get("/schedules/mine", headers=bob)).status_code == 404
    assert (await client.get("/schedules", headers=bob)).json() == []
    taken = await client.put("/schedules/mine", json=every(5), headers=bob)
    assert taken.status_code == 404
    assert (await client.delete("/schedules/mine", headers=bob)).status_code == 404
    # An admin key sees every schedule and may change it; it stays alice's.
    assert [s["name"] for s in (await client.get("/schedules", headers=root)).json()] == ["mine"]
    replaced = await client.put("/schedules/mine", json=every(30), headers=root)
    assert replaced.status_code == 200
    await clock.advance(30)
    (made,) = (await client.get("/tasks", headers=alice)).json()
    assert made["schedule"] == "mine"
    assert (await client.get(f"/tasks/{made['task_id']}", headers=bob)).status_code == 404
    assert (await client.get("/tasks", headers=bob)).json() == []
    assert (await client.get("/schedules/mine", headers=alice)).json()["every"] == 30
    assert (await client.delete("/schedules/mine", headers=alice)).status_code == 200


async def test_past_the_most_schedules_kept_a_new_one_is_409_and_a_replaced_one_is_fine(
    make_client, monkeypatch
):
    for module in ("taskmanager.actors.schedules", "taskmanager.actors.redis.schedules"):
        monkeypatch.setattr(f"{module}.MAX_SCHEDULES", 2)
    client = await make_client()
    for name in ("one", "two"):
        assert (
            await client.put(f"/schedules/{name}", json={**SUM, "every": 60})
        ).status_code == 201
    refused = await client.put("/schedules/three", json={**SUM, "every": 60})
    assert refused.status_code == 409
    assert refused.json() == {"detail": "at most 2 schedules are kept; delete one first"}
    assert (await client.put("/schedules/two", json={**SUM, "every": 30})).status_code == 200
    await client.delete("/schedules/one")
    assert (await client.put("/schedules/three", json={**SUM, "every": 60})).status_code == 201
