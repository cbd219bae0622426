"""Limits and hostile input: stalled bodies, half-sent bodies, control characters, HEAD,
the bytes a store keeps."""

from __future__ import annotations

import asyncio
import json

import pytest
from support import REPORT, SUM, FakeClock, http_scope, settle, submit

from taskmanager.actors.messages import GetStoreStatus

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")

UNKNOWN_ID = "3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"


@pytest.fixture(params=[True, False], ids=["fast-path", "routes"])
def fast_path(request) -> bool:
    return request.param


class SlowBodyClient:
    """An ASGI client that sends the start of a body, then stalls or hangs up."""

    def __init__(self, first: bytes, *, then: str) -> None:
        self.first = first
        self.then = then
        self.sent_first = False
        self.hang_up = asyncio.Event()
        self.messages: list[dict] = []

    async def receive(self) -> dict:
        if not self.sent_first:
            self.sent_first = True
            return {"type": "http.request", "body": self.first, "more_body": True}
        if self.then == "stall":
            await self.hang_up.wait()  # nothing more arrives until the test ends
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.messages.append(message)

    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


def post_scope() -> dict:
    length = str(len(json.dumps(SUM)) + 100).encode()
    headers = ((b"content-type", b"application/json"), (b"content-length", length))
    return http_scope("/tasks", headers=headers, method="POST")


async def tasks_kept(client) -> int:
    await settle()
    status = await client.app.state.system.store.ask(GetStoreStatus())
    return sum(status.counts.values())


async def test_a_stalled_body_is_answered_408_and_creates_nothing(make_client):
    client = await make_client(body_timeout=0.05)
    sender = SlowBodyClient(json.dumps(SUM).encode(), then="stall")
    try:
        async with asyncio.timeout(5):
            await client.app(post_scope(), sender.receive, sender.send)
    finally:
        sender.hang_up.set()
    assert sender.status() == 408
    start = next(m for m in sender.messages if m["type"] == "http.response.start")
    assert (b"connection", b"close") in start["headers"]
    body = b"".join(m.get("body", b"") for m in sender.messages[1:])
    assert "body" in json.loads(body)["detail"]
    assert await tasks_kept(client) == 0


async def test_a_body_that_keeps_arriving_within_the_limit_is_accepted(make_client):
    client = await make_client(body_timeout=5)
    text = json.dumps(SUM).encode()
    parts = [text[:10], text[10:20], text[20:]]

    async def receive() -> dict:
        part = parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    messages: list[dict] = []

    async def send(message: dict) -> None:
        messages.append(message)

    await client.app(post_scope(), receive, send)
    assert messages[0]["status"] == 202


async def test_a_client_that_hangs_up_mid_body_creates_no_task(client, caplog):
    # The part that arrived is a whole submission on its own: it must still not be taken.
    sender = SlowBodyClient(json.dumps(SUM).encode(), then="hang up")
    async with asyncio.timeout(5):
        await client.app(post_scope(), sender.receive, sender.send)
    assert await tasks_kept(client) == 0
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


async def test_the_202_carries_the_task_as_get_returns_it(client):
    response = await client.post("/tasks", json=REPORT)
    assert response.status_code == 202
    submitted = response.json()
    assert submitted["status"] == "queued"
    assert response.headers["location"] == f"/tasks/{submitted['task_id']}"
    read = (await client.get(response.headers["location"])).json()
    assert set(submitted) == set(read)
    for field in ("task_id", "task_type", "parameters", "created_at", "priority", "max_retries"):
        assert submitted[field] == read[field]
    assert submitted["parameters"] == REPORT["parameters"]


@pytest.mark.parametrize(
    "title", ["\x1b]0;owned\x07", "red \x1b[31m text", "two\nlines", "nul\x00", "c1 \x9b"]
)
async def test_a_report_title_with_control_characters_answers_400_naming_the_title(client, title):
    body = {"task_type": "generate_report", "parameters": {"title": title}}
    response = await client.post("/tasks", json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("parameters.title: ")
    assert "control character" in detail
    assert await tasks_kept(client) == 0


async def test_a_report_title_with_unicode_text_is_accepted(client):
    body = {"task_type": "generate_report", "parameters": {"title": "Résumé — 四半期 ✓"}}
    await submit(client, body)


@pytest.mark.parametrize(
    "path", ["/tasks/{id}", "/tasks/{id}?wait=false", "/tasks", "/tasks?limit=1", "/stats"]
)
async def test_head_on_an_api_path_answers_as_get_without_a_body(client, path):
    task_id = await submit(client, {**SUM, "delay": 60})  # nothing changes between the two
    url = path.format(id=task_id)
    got = await client.get(url)
    head = await client.head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if "content-length" in got.headers:
        assert head.headers["content-length"] == got.headers["content-length"]


async def test_head_on_an_unknown_task_is_404_and_on_the_event_stream_405(client):
    assert (await client.head(f"/tasks/{UNKNOWN_ID}")).status_code == 404
    stream = await client.head("/events")
    assert stream.status_code == 405
    assert "GET" in stream.headers["allow"]


# On Redis, Redis's own maxmemory bounds the bytes kept.
@pytest.mark.backends("memory")
async def test_the_store_refuses_submissions_past_its_byte_bound_until_tasks_expire(
    make_client, clock: FakeClock
):
    client = await make_client(max_store_mb=1, result_ttl=60)
    # About 250 KB of parameters each: four fit in 1 MiB, the fifth does not.
    numbers = [1.2345678901234567e-300] * 10_000
    big = {"task_type": "compute_sum", "parameters": {"numbers": numbers}}
    for _ in range(4):
        await submit(client, big)
    refused = await client.post("/tasks", json=big)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "full" in refused.json()["detail"]
    # Small tasks still fit beside them; once the big ones expire, big ones fit again.
    await submit(client, SUM)
    await clock.advance(5 * 3 + 61)
    await submit(client, big)
