"""Tasks that wait for others: released when all completed, cancelled when one did not."""

from __future__ import annotations

import itertools
import uuid

import pytest
from support import FAILING, REPORT, SUM, FakeClock, settle, submit, sum_of, task_of

from taskmanager.keys import file_line, new_key

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")

KEYS = {"alice": new_key(), "bob": new_key(), "root": new_key()}
AS = {name: {"Authorization": f"Bearer {key}"} for name, key in KEYS.items()}


def after(body: dict, *task_ids: str) -> dict:
    return {**body, "depends_on": list(task_ids)}


async def test_a_chain_of_three_runs_one_after_another_each_with_the_last_result(
    make_client, clock: FakeClock
):
    client = await make_client(tasks="taskmanager.demo,jobmodules.usertypes")
    first = await submit(client, sum_of(1, 2))
    second = (await client.post("/tasks", json=after(sum_of(3), first))).json()
    assert second["status"] == "queued"
    assert second["depends_on"] == second["waiting_for"] == [first]
    third = await submit(
        client, after({"task_type": "gather", "parameters": {}}, second["task_id"])
    )
    await settle()
    assert [(await task_of(client, i))["status"] for i in (first, second["task_id"], third)] == [
        "processing",
        "queued",
        "queued",
    ]
    await clock.advance(5)  # the first completes: the second starts at once
    assert (await task_of(client, second["task_id"]))["status"] == "processing"
    released = await task_of(client, second["task_id"])
    assert released["waiting_for"] == []
    assert (await task_of(client, third))["waiting_for"] == [second["task_id"]]
    await clock.advance(5)
    await settle()
    done = await task_of(client, third)
    assert done["status"] == "completed"
    assert done["depends_on"] == [second["task_id"]]
    assert done["result"] == {second["task_id"]: 3}


async def test_a_waiting_task_takes_no_worker(make_client, clock: FakeClock):
    client = await make_client(workers=2)
    slow = await submit(client, REPORT)  # 10 s
    waiting = await submit(client, after(SUM, slow))
    later = await submit(client, SUM)
    await settle()
    assert (await task_of(client, later))["status"] == "processing"
    stats = (await client.get("/stats")).json()
    assert stats["workers"]["busy"] == 2
    assert (await task_of(client, waiting))["started_at"] is None
    await clock.advance(10)
    assert (await task_of(client, waiting))["status"] == "processing"


async def test_a_failure_in_the_middle_of_a_chain_cancels_the_rest_naming_each_cause(
    client, clock: FakeClock
):
    first = await submit(client, SUM)
    failing = await submit(client, after(FAILING, first))
    chain = [failing]
    for _ in range(3):
        chain.append(await submit(client, after(SUM, chain[-1])))
    beside = await submit(client, after(SUM, first))  # waits only for the first
    await clock.advance(5)  # the first completes; the failing one starts
    await clock.advance(5)  # ... and fails
    await settle()
    assert (await task_of(client, failing))["status"] == "failed"
    for cause, task_id in itertools.pairwise(chain):
        task = await task_of(client, task_id)
        assert task["status"] == "cancelled"
        assert task["error"] == {
            "type": "dependency_failed",
            "message": f"dependency {cause} {'failed' if cause == failing else 'cancelled'}",
        }
        assert task["started_at"] is None
    assert (await task_of(client, beside))["status"] in {"processing", "completed"}
    stats = (await client.get("/stats")).json()
    assert stats["counts"]["cancelled"] == 3


async def test_cancelling_a_task_cancels_what_waits_for_it(client):
    first = await submit(client, REPORT)
    second = await submit(client, after(SUM, first))
    third = await submit(client, after(SUM, second))
    await client.delete(f"/tasks/{first}")
    for cause, task_id in ((first, second), (second, third)):
        task = await task_of(client, task_id)
        assert task["status"] == "cancelled"
        assert task["error"]["message"] == f"dependency {cause} cancelled"


async def test_cancelling_a_waiting_task_leaves_its_dependency_running(client, clock: FakeClock):
    first = await submit(client, SUM)
    waiting = await submit(client, after(SUM, first))
    assert (await client.delete(f"/tasks/{waiting}")).json()["status"] == "cancelled"
    await clock.advance(5)
    await clock.advance(5)
    assert (await task_of(client, first))["status"] == "completed"
    assert (await task_of(client, waiting))["started_at"] is None


async def test_a_dependency_that_already_ended_decides_at_once(client, clock: FakeClock):
    done = await submit(client, sum_of(2))
    failed = await submit(client, FAILING)
    await clock.advance(5)
    await settle()
    runs = (await client.post("/tasks", json=after(SUM, done))).json()
    assert runs["waiting_for"] == []
    refused = await client.post("/tasks", json=after(SUM, done, failed))
    assert refused.status_code == 202
    assert refused.json()["status"] == "cancelled"
    assert refused.json()["error"] == {
        "type": "dependency_failed",
        "message": f"dependency {failed} failed",
    }
    await settle()
    assert (await task_of(client, runs["task_id"]))["status"] == "processing"


async def test_a_task_waits_for_all_of_its_dependencies_each_named_once(client, clock: FakeClock):
    short, long = await submit(client, SUM), await submit(client, REPORT)
    waiting = (await client.post("/tasks", json=after(SUM, long, short, long))).json()
    assert waiting["depends_on"] == [long, short]
    await clock.advance(5)
    task = await task_of(client, waiting["task_id"])
    assert (task["status"], task["waiting_for"]) == ("queued", [long])
    await clock.advance(5)
    assert (await task_of(client, waiting["task_id"]))["status"] == "processing"


@pytest.mark.parametrize(
    ("depends_on", "detail"),
    [
        (["not-a-uuid"], "depends_on.0: Input should be a task id (a UUID"),
        ([1], "depends_on.0: Input should be a task id (a UUID"),
        ("abc", "depends_on: Input should be a valid array"),
        ([str(uuid.uuid4()) for _ in range(101)], "depends_on: List should have at most 100"),
    ],
)
async def test_malformed_dependencies_are_a_400_naming_depends_on(client, depends_on, detail):
    answer = await client.post("/tasks", json={**SUM, "depends_on": depends_on})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)


async def test_an_unknown_dependency_is_a_400_and_creates_nothing(client):
    unknown = str(uuid.uuid4())
    answer = await client.post("/tasks", json=after(SUM, unknown))
    assert answer.status_code == 400
    assert answer.json() == {"detail": f"depends_on: task {unknown} not found"}
    assert (await client.get("/tasks")).json() == []


async def test_a_client_key_may_depend_only_on_tasks_it_can_see(make_client, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(
        "\n".join(
            file_line(name, "admin" if name == "root" else "client", key)
            for name, key in KEYS.items()
        )
    )
    client = await make_client(api_keys_file=keys)
    alices = await submit(client, REPORT, **AS["alice"])
    refused = await client.post("/tasks", json=after(SUM, alices), headers=AS["bob"])
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"depends_on: task {alices} not found"
    mine = await client.post("/tasks", json=after(SUM, alices), headers=AS["alice"])
    assert mine.status_code == 202
    admins = await client.post("/tasks", json=after(SUM, alices), headers=AS["root"])
    assert admins.status_code == 202


async def test_the_same_idempotency_key_with_other_dependencies_is_a_409(client):
    first, second = await submit(client, REPORT), await submit(client, REPORT)
    key = {"Idempotency-Key": "chain-1"}
    made = await client.post("/tasks", json=after(SUM, first), headers=key)
    again = await client.post("/tasks", json=after(SUM, first), headers=key)
    assert (made.status_code, again.status_code) == (202, 200)
    assert again.json()["task_id"] == made.json()["task_id"]
    other = await client.post("/tasks", json=after(SUM, second), headers=key)
    assert other.status_code == 409


async def test_a_schedule_cannot_depend_on_tasks(client):
    first = await submit(client, SUM)
    answer = await client.put("/schedules/chained", json={**after(SUM, first), "every": 60})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("depends_on:")
