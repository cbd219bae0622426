"""Access control: API keys, and each client seeing only its own tasks."""

from __future__ import annotations

import pytest
from support import SUM, FakeClock, Stream, settle, submit

from taskmanager.keys import file_line, new_key

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


KEYS = {"alice": new_key(), "bob": new_key(), "root": new_key()}
ALICE = {"Authorization": f"Bearer {KEYS['alice']}"}
BOB = {"Authorization": f"Bearer {KEYS['bob']}"}
ROOT = {"Authorization": f"Bearer {KEYS['root']}"}
PROTECTED = [
    ("GET", "/tasks"),
    ("POST", "/tasks"),
    ("GET", "/tasks/3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"),
    ("DELETE", "/tasks/3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"),
    ("GET", "/events"),
    ("GET", "/stats"),
    ("GET", "/metrics"),
]


@pytest.fixture(params=[True, False], ids=["fast-path", "routes"])
def fast_path(request) -> bool:
    return request.param


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text(
        "# who may use the service\n"
        f"{file_line('alice', 'client', KEYS['alice'])}\n"
        f"{file_line('bob', 'client', KEYS['bob'])}  # the second client\n"
        "\n"
        f"{file_line('root', 'admin', KEYS['root'])}\n"
    )
    return path


@pytest.fixture
async def keyed(make_client, keys_file):
    return await make_client(api_keys_file=keys_file)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer tm_wrong"}, {"Authorization": f"Basic {KEYS['alice']}"}],
    ids=["no key", "wrong key", "not bearer"],
)
async def test_every_api_request_without_a_valid_key_gets_401(keyed, method, path, headers):
    response = await keyed.request(method, path, headers=headers, json=SUM)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    detail = response.json()["detail"]
    assert "Bearer" in detail
    assert not any(name in detail for name in KEYS)


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/"])
async def test_the_health_check_docs_and_monitor_need_no_key(keyed, path):
    response = await keyed.get(path)
    assert response.status_code in {200, 307}


async def test_a_client_sees_gets_and_cancels_only_its_own_tasks(keyed, clock: FakeClock):
    mine = await submit(keyed, SUM, **ALICE)
    theirs = await submit(keyed, SUM, **BOB)
    await settle()
    assert (await keyed.get(f"/tasks/{mine}", headers=ALICE)).status_code == 200
    for request in (
        keyed.get(f"/tasks/{theirs}", headers=ALICE),
        keyed.get(f"/tasks/{theirs}", headers=ALICE, params={"wait": "true"}),
        keyed.delete(f"/tasks/{theirs}", headers=ALICE),
    ):
        response = await request
        assert response.status_code == 404
        assert response.json()["detail"] == f"task {theirs} not found"
    assert (await keyed.get(f"/tasks/{theirs}", headers=BOB)).json()["status"] == "processing"
    listed = (await keyed.get("/tasks", headers=ALICE)).json()
    assert [task["task_id"] for task in listed] == [mine]
    everything = (await keyed.get("/tasks", headers=ROOT)).json()
    assert {task["task_id"] for task in everything} == {mine, theirs}
    assert (await keyed.delete(f"/tasks/{theirs}", headers=ROOT)).status_code == 200


async def test_stats_count_a_clients_own_tasks_and_metrics_are_for_admins(keyed):
    await submit(keyed, SUM, **ALICE)
    await submit(keyed, SUM, **BOB)
    await submit(keyed, SUM, **BOB)
    await settle()
    alices = (await keyed.get("/stats", headers=ALICE)).json()["counts"]
    assert alices["processing"] == 1
    assert (await keyed.get("/stats", headers=ROOT)).json()["counts"]["processing"] == 3
    forbidden = await keyed.get("/metrics", headers=ALICE)
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]
    assert (await keyed.get("/metrics", headers=ROOT)).status_code == 200


async def test_a_client_keys_stats_count_only_its_own_completions_per_minute(
    keyed, clock: FakeClock
):
    for headers in (ALICE, ALICE, BOB):
        await submit(keyed, SUM, **headers)
    await clock.advance(5)

    async def completed(headers: dict[str, str]) -> tuple[int, int]:
        stats = (await keyed.get("/stats", headers=headers)).json()
        per_minute = sum(minute["count"] for minute in stats["completed_per_minute"])
        return stats["counts"]["completed"], per_minute

    assert await completed(ALICE) == (2, 2)
    assert await completed(BOB) == (1, 1)
    assert await completed(ROOT) == (3, 3)


@pytest.mark.parametrize("path", ["/stats", "/metrics", "/tasks"])
async def test_wrong_keys_count_against_the_address_on_every_protected_path(
    make_client, keys_file, path
):
    client = await make_client(api_keys_file=keys_file, rate_limit="3/minute")
    guesses = [{"Authorization": f"Bearer tm_guess{index}"} for index in range(4)]
    statuses = [(await client.get(path, headers=guess)).status_code for guess in guesses]
    assert statuses == [401, 401, 401, 429]
    # One budget per address for every path: guessing elsewhere gains nothing.
    assert (await client.get("/stats")).status_code == 429
    # A valid key's figures are still not counted.
    for _ in range(4):
        assert (await client.get("/stats", headers=ROOT)).status_code == 200


async def test_an_event_stream_carries_only_the_clients_own_tasks(keyed):
    alices = Stream(keyed.app, headers=[(b"authorization", ALICE["Authorization"].encode())])
    await settle()
    await submit(keyed, SUM, **BOB)
    mine = await submit(keyed, SUM, **ALICE)
    events = await alices.messages(2)
    assert {event["event"] for event in events} == {"submitted", "started"}
    assert all(mine in event["data"] for event in events)
    await alices.close()


async def test_a_replayed_stream_carries_only_the_clients_own_tasks(keyed, clock: FakeClock):
    roots = Stream(keyed.app, headers=[(b"authorization", ROOT["Authorization"].encode())])
    await settle()
    first = await submit(keyed, SUM, **ALICE)
    (submitted,) = await roots.messages(1)
    await roots.close()
    await submit(keyed, SUM, **BOB)
    await clock.advance(5)
    resumed = Stream(
        keyed.app,
        headers=[
            (b"authorization", ALICE["Authorization"].encode()),
            (b"last-event-id", submitted["id"].encode()),
        ],
    )
    missed = await resumed.messages(2)
    assert [event["event"] for event in missed] == ["started", "completed"]
    assert all(first in event["data"] for event in missed)
    await resumed.close()


async def test_the_rate_limit_counts_per_key_and_per_address_without_one(make_client, keys_file):
    client = await make_client(api_keys_file=keys_file, rate_limit="2/minute")
    for _ in range(2):
        assert (await client.get("/tasks", headers=ALICE)).status_code == 200
    assert (await client.get("/tasks", headers=ALICE)).status_code == 429
    # Bob behind the same address has his own budget.
    assert (await client.get("/tasks", headers=BOB)).status_code == 200
    # Guessing keys from this address is limited like any request without a key.
    assert (await client.get("/tasks")).status_code == 401
    assert (await client.get("/tasks", headers={"Authorization": "Bearer x"})).status_code == 401
    assert (await client.get("/tasks", headers={"Authorization": "Bearer y"})).status_code == 429


async def test_an_idempotency_key_belongs_to_the_key_that_sent_it(keyed):
    alices = await keyed.post("/tasks", json=SUM, headers=ALICE | {"Idempotency-Key": "k"})
    bobs = await keyed.post("/tasks", json=SUM, headers=BOB | {"Idempotency-Key": "k"})
    assert alices.status_code == bobs.status_code == 202
    assert alices.json()["task_id"] != bobs.json()["task_id"]
    again = await keyed.post("/tasks", json=SUM, headers=ALICE | {"Idempotency-Key": "k"})
    assert again.status_code == 200
    assert again.json()["task_id"] == alices.json()["task_id"]


async def test_the_openapi_declares_the_bearer_scheme_only_with_keys(keyed, client):
    schema = (await keyed.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/tasks"]["post"]["security"] == [{"bearer": []}]
    assert "401" in schema["paths"]["/tasks/{task_id}"]["get"]["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    open_schema = (await client.get("/openapi.json")).json()
    assert "securitySchemes" not in open_schema["components"]


async def test_without_keys_the_api_stays_open(client):
    task_id = await submit(client)
    assert (await client.get(f"/tasks/{task_id}")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200
