"""The task API as a client sees it: every status code and header README.md promises.

Every test here runs twice: once with the fast path answering what it can, once with
FastAPI's routes answering everything, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from support import SUM, FakeClock, http_scope, settle, submit

from taskmanager.actors import Kill
from taskmanager.actors.messages import GetStoreStatus

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


@pytest.fixture(params=[True, False], ids=["fast-path", "routes"])
def fast_path(request) -> bool:
    return request.param


async def test_submitting_answers_202_with_the_id_and_its_location(client):
    response = await client.post("/tasks", json=SUM)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert uuid.UUID(body["task_id"]).version == 4
    assert response.headers["location"] == f"/tasks/{body['task_id']}"


async def test_a_task_reads_back_with_every_field(client, clock: FakeClock):
    task_id = await submit(client)
    await clock.advance(5)
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["task_id"] == task_id
    assert task["task_type"] == "compute_sum"
    assert task["status"] == "completed"
    assert task["parameters"] == {"numbers": [1, 2, 3.5]}
    assert task["result"] == 6.5
    assert task["error"] is None
    assert task["progress"] == 1.0
    assert task["created_at"].endswith("Z")
    assert task["started_at"] is not None
    assert task["finished_at"] is not None


async def test_a_failed_task_says_why(client, clock: FakeClock):
    task_id = await submit(client, {"task_type": "simulate_error", "parameters": {}})
    await clock.advance(5)
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "failed"
    assert task["error"]["type"] == "value_error"
    assert task["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"parameters": {}}', "task_type"),
        (b'{"task_type": "mine_bitcoin", "parameters": {}}', "task_type"),
        (b'{"task_type": "compute_sum"}', "parameters"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": []}}', "parameters.numbers"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": [1, NaN]}}', "numbers.1"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": [1e999]}}', "numbers.0"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": ["1"]}}', "numbers.0"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": [true]}}', "numbers.0"),
        (b'{"task_type": "compute_sum", "parameters": {"numbers": [1], "x": 1}}', "parameters.x"),
        (b'{"task_type": "generate_report", "parameters": {"title": ""}}', "parameters.title"),
        (
            b'{"task_type": "generate_report", "parameters": {"title": "t", "sections": 11}}',
            "parameters.sections",
        ),
        (b'{"task_type": "simulate_error", "parameters": {"error": "boom"}}', "parameters.error"),
    ],
)
async def test_invalid_submissions_answer_400_naming_the_field(client, body, field):
    response = await client.post(
        "/tasks", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert field in response.json()["detail"]


async def test_ten_thousand_numbers_are_accepted_and_one_more_is_not(client):
    numbers = list(range(10_000))
    ok = await client.post(
        "/tasks", json={"task_type": "compute_sum", "parameters": {"numbers": numbers}}
    )
    assert ok.status_code == 202
    too_many = await client.post(
        "/tasks", json={"task_type": "compute_sum", "parameters": {"numbers": [*numbers, 1]}}
    )
    assert too_many.status_code == 400


async def test_a_body_that_is_not_json_answers_415(client):
    response = await client.post(
        "/tasks", content=b"numbers=1", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


async def test_a_body_over_one_mebibyte_answers_413(client):
    body = b'{"task_type": "compute_sum", "parameters": {"numbers": [' + b"1," * 600_000 + b"1]}}"
    response = await client.post(
        "/tasks", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_chunked_body_over_one_mebibyte_is_refused_while_it_streams(client):
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b" " * 65536

    response = await client.post(
        "/tasks", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert sent < 100


async def test_unknown_and_malformed_ids_answer_404_and_400(client):
    missing = await client.get(f"/tasks/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    malformed = await client.get("/tasks/not-a-uuid")
    assert malformed.status_code == 400
    assert "task_id" in malformed.json()["detail"]
    assert (await client.delete(f"/tasks/{uuid.uuid4()}")).status_code == 404
    assert (await client.delete("/tasks/42")).status_code == 400


async def test_cancelling_answers_200_twice_and_409_once_finished(client, clock: FakeClock):
    queued = await submit(client)
    first = await client.delete(f"/tasks/{queued}")
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    second = await client.delete(f"/tasks/{queued}")
    assert second.status_code == 200
    done = await submit(client)
    await clock.advance(5)
    conflict = await client.delete(f"/tasks/{done}")
    assert conflict.status_code == 409
    assert conflict.json()["task"]["status"] == "completed"
    assert "completed" in conflict.json()["detail"]


async def test_listing_filters_by_status_caps_the_count_and_keeps_order(client, clock: FakeClock):
    ids = [await submit(client) for _ in range(7)]
    await settle()
    everything = (await client.get("/tasks")).json()
    assert [task["task_id"] for task in everything] == ids
    queued = (await client.get("/tasks", params={"status": "queued"})).json()
    assert [task["task_id"] for task in queued] == ids[5:]
    assert len((await client.get("/tasks", params={"limit": 2})).json()) == 2
    assert (await client.get("/tasks", params={"status": "completed"})).json() == []


async def test_a_long_listing_is_valid_json(client):
    ids = [await submit(client) for _ in range(600)]
    listed = (await client.get("/tasks")).json()
    assert [task["task_id"] for task in listed] == ids


@pytest.mark.parametrize(
    "query", [{"status": "done"}, {"limit": 0}, {"limit": 10_001}, {"limit": "many"}]
)
async def test_bad_list_queries_answer_400(client, query):
    response = await client.get("/tasks", params=query)
    assert response.status_code == 400
    assert next(iter(query)) in response.json()["detail"]


async def test_a_long_poll_wakes_when_the_status_changes(client, clock: FakeClock):
    ids = [await submit(client) for _ in range(6)]
    waiting = asyncio.create_task(client.get(f"/tasks/{ids[5]}", params={"wait": "true"}))
    await settle()
    assert not waiting.done()
    await client.delete(f"/tasks/{ids[0]}")  # frees a worker: the sixth task starts
    response = await waiting
    assert response.json()["status"] == "processing"


async def test_a_long_poll_answers_a_finished_task_at_once(client, clock: FakeClock):
    task_id = await submit(client)
    await clock.advance(5)
    response = await client.get(f"/tasks/{task_id}", params={"wait": "true"})
    assert response.json()["status"] == "completed"


async def test_a_long_poll_ignores_progress_and_times_out_with_the_task_as_it_is(
    make_client, clock
):
    # Real time: long enough for the progress update to land first, on Redis and loaded.
    client = await make_client(long_poll_timeout=0.5)
    task_id = await submit(client, {"task_type": "generate_report", "parameters": {"title": "t"}})
    await settle()
    waiting = asyncio.create_task(client.get(f"/tasks/{task_id}", params={"wait": "true"}))
    await clock.advance(5)  # a progress update only
    response = await waiting
    assert response.status_code == 200
    assert response.json()["status"] == "processing"
    assert response.json()["progress"] == pytest.approx(1 / 3)


async def test_a_client_that_hangs_up_frees_its_waiter_at_once(client):

    task_id = await submit(client)
    await settle()
    store = client.app.state.system.store
    disconnect = asyncio.Event()
    sent: list[dict] = []

    async def receive():
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = http_scope(f"/tasks/{task_id}", b"wait=true", spec_version="2.4")
    request = asyncio.create_task(client.app(scope, receive, send))
    await settle()
    assert (await store.ask(GetStoreStatus())).waiters == 1
    disconnect.set()
    await request
    await settle()
    assert (await store.ask(GetStoreStatus())).waiters == 0


async def test_the_store_being_full_answers_503_with_retry_after(make_client):
    client = await make_client(max_tasks=1)
    await submit(client)
    response = await client.post("/tasks", json=SUM)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "full" in response.json()["detail"]


async def test_the_eleventh_request_in_a_minute_answers_429(make_client, clock: FakeClock):
    client = await make_client(rate_limit="10/minute")
    for remaining in range(9, -1, -1):
        response = await client.get("/tasks")
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"default";q=10;w=60'
        assert response.headers["ratelimit"].startswith(f'"default";r={remaining};t=')
    refused = await client.post("/tasks", json=SUM)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "rate limit" in refused.json()["detail"]
    await clock.advance(59)
    assert (await client.get("/tasks")).status_code == 429
    await clock.advance(1)
    assert (await client.get("/tasks")).status_code == 200


async def test_docs_and_health_do_not_count_against_the_limit(make_client):
    client = await make_client(rate_limit="1/minute")
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/tasks")).status_code == 200
    assert (await client.get("/tasks")).status_code == 429


async def test_each_client_address_has_its_own_budget(make_client):
    first = await make_client(rate_limit="1/minute", client_ip="127.0.0.2")
    transport = first._transport
    second = type(first)(
        transport=type(transport)(app=first.app, client=("127.0.0.3", 1)),
        base_url="http://testserver",
    )
    async with second:
        assert (await first.get("/tasks")).status_code == 200
        assert (await first.get("/tasks")).status_code == 429
        assert (await second.get("/tasks")).status_code == 200


async def test_health_answers_503_when_an_actor_keeps_crashing(client):

    assert (await client.get("/healthz")).json()["status"] == "ok"
    store = client.app.state.system.store
    for _ in range(6):
        store.tell(Kill())
    await settle()
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


async def test_the_openapi_documents_every_endpoint_with_examples_and_no_422(client):
    schema = (await client.get("/openapi.json")).json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert all(op.get("summary") for op in operations)
    assert all("422" not in op["responses"] for op in operations)
    post = schema["paths"]["/tasks"]["post"]
    assert set(post["responses"]) >= {"202", "400", "413", "415", "429", "503"}
    assert post["requestBody"]["content"]["application/json"]["examples"]
    assert "TaskRequest" in schema["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


async def test_an_unknown_path_answers_json_404(client):
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["detail"]


async def test_other_spellings_of_an_id_and_of_wait_get_the_same_answer(client):
    task_id = await submit(client)
    canonical = (await client.get(f"/tasks/{task_id}")).json()
    assert (await client.get(f"/tasks/{task_id.upper()}")).json() == canonical
    assert (await client.get(f"/tasks/{task_id.replace('-', '')}")).json() == canonical
    assert (await client.get(f"/tasks/{task_id}", params={"wait": "0"})).json() == canonical


async def test_cross_origin_requests_get_cors_headers_even_when_limited(make_client):
    client = await make_client(rate_limit="1/minute")
    origin = {"Origin": "http://monitor.example"}
    allowed = await client.post("/tasks", json=SUM, headers=origin)
    assert allowed.headers["access-control-allow-origin"] == "*"
    assert "Location" in allowed.headers["access-control-expose-headers"]
    limited = await client.get("/tasks", headers=origin)
    assert limited.status_code == 429
    assert limited.headers["access-control-allow-origin"] == "*"
    assert "Retry-After" in limited.headers["access-control-expose-headers"]


async def test_docs_use_the_monitors_copy_of_swagger_ui_when_it_is_built(make_client, tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>monitor</title>")
    (tmp_path / "swagger-ui").mkdir()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        (tmp_path / "swagger-ui" / name).write_text("/* asset */")
    client = await make_client(web_dir=tmp_path)
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert 'src="/swagger-ui/swagger-ui-bundle.js"' in docs.text
    assert (await client.get("/swagger-ui/swagger-ui.css")).status_code == 200
    assert "monitor" in (await client.get("/")).text


async def test_without_a_built_monitor_the_root_leads_to_the_docs(make_client, tmp_path):
    client = await make_client(web_dir=tmp_path)
    root = await client.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/docs"
    assert "swagger-ui-bundle.js" in (await client.get("/docs")).text
