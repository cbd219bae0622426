"""Hostile clients: spoofed addresses, address floods and malformed input."""

from __future__ import annotations

import gc
import ipaddress
import tracemalloc

import httpx
import pytest
from support import FakeClock, settle

from taskmanager.actors.messages import CheckRate, PruneIdle
from taskmanager.actors.ratelimiter import RateLimiter
from taskmanager.actors.runtime import Supervisor
from taskmanager.config import RateLimit
from taskmanager.http.admission import client_address

JSON = {"content-type": "application/json"}
UUID_TEXT = "3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"


def other_client(client: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """Another client of the same app, connecting from ``address``."""
    transport = httpx.ASGITransport(app=client.app, client=(address, 50000))  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


# --- spoofing ----------------------------------------------------------------------------


async def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit(
    make_client,
):
    client = await make_client(rate_limit="5/minute", client_ip="198.51.100.7")
    statuses = [
        (await client.get("/tasks", headers={"X-Forwarded-For": f"203.0.113.{index}"})).status_code
        for index in range(1, 11)
    ]
    assert statuses == [200] * 5 + [429] * 5


async def test_through_a_trusted_proxy_the_real_client_is_limited(make_client):
    proxy = await make_client(
        rate_limit="3/minute", trusted_proxies="10.0.0.0/8", client_ip="10.0.0.2"
    )

    async def get_as(forwarded: str) -> int:
        return (await proxy.get("/tasks", headers={"X-Forwarded-For": forwarded})).status_code

    assert [await get_as("203.0.113.9") for _ in range(3)] == [200] * 3
    assert await get_as("203.0.113.9") == 429
    # Hops the client wrote itself come before the one the proxy saw: they change nothing.
    assert await get_as("192.0.2.1, 203.0.113.9") == 429
    assert await get_as("203.0.113.9, 10.0.0.7") == 429  # through a second trusted proxy
    # Another client behind the same proxy has its own budget.
    assert await get_as("203.0.113.10") == 200
    # IPv6 clients share one budget per /64.
    assert [await get_as(f"2001:db8:1:2::{index}") for index in range(1, 5)] == [200] * 3 + [429]
    assert await get_as("2001:db8:1:3::1") == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "key"),
    [
        ("198.51.100.7", "203.0.113.1", (), "198.51.100.7"),
        ("10.0.0.2", "203.0.113.1", ("10.0.0.0/8",), "203.0.113.1"),
        ("10.0.0.2", "garbage, 203.0.113.1", ("10.0.0.0/8",), "203.0.113.1"),
        ("10.0.0.2", "203.0.113.1, garbage", ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", "", ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", ("10.0.0.0/8",), "10.0.0.3"),
        ("2001:db8::1", "", (), "2001:db8::/64"),
        ("::ffff:192.0.2.5", "", (), "192.0.2.5"),
        ("[2001:db8::1]", "", (), "2001:db8::/64"),
    ],
)
def test_the_client_key_believes_only_trusted_hops(peer, forwarded, trusted, key):
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"client": (peer, 1), "headers": headers}
    networks = tuple(ipaddress.ip_network(each) for each in trusted)
    assert client_address(scope, networks) == key


# --- an address flood ----------------------------------------------------------------------


async def test_a_flood_of_distinct_addresses_leaves_the_limiter_table_bounded(clock: FakeClock):
    """100,000 addresses over ten windows: memory holds about one window's worth, then none."""
    batches, per_batch, seconds_per_batch = 100, 1_000, 6.0  # ten batches per 60 s window
    addresses = [f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}" for n in range(batches * per_batch)]
    limiter = RateLimiter(RateLimit(10, 60), clock)
    limiter.start(Supervisor())
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        usage: list[int] = []
        for batch in range(batches):
            for address in addresses[batch * per_batch : (batch + 1) * per_batch]:
                limiter.tell(CheckRate(address))
            await clock.advance(seconds_per_batch)
            limiter.tell(PruneIdle())
            await settle()
            usage.append(tracemalloc.get_traced_memory()[0] - baseline)
        full_window = max(usage[:12])
        # Once the window is full, more addresses add nothing: the table stays one window.
        assert max(usage[12:]) < 1.3 * full_window
        await clock.advance(61)
        limiter.tell(PruneIdle())
        await settle()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
        await limiter.stop()
    assert limiter._clients == {}
    assert after < full_window / 10


# --- malformed input -----------------------------------------------------------------------


def submission(parameters: str, task_type: str = "compute_sum") -> bytes:
    return b'{"task_type": "%s", "parameters": %s}' % (task_type.encode(), parameters.encode())


NESTED = "[" * 10_000 + "]" * 10_000
HOSTILE_REQUESTS = [
    # (id, method, url, headers, body, status, words the detail contains)
    ("malformed-json", "POST", "/tasks", JSON, b"{not json", 400, "Invalid JSON"),
    ("truncated-json", "POST", "/tasks", JSON, b'{"task_type": "compute_sum"', 400, "JSON"),
    ("not-utf8", "POST", "/tasks", JSON, b"\xff\xfe\x00{", 400, "JSON"),
    ("empty-body", "POST", "/tasks", JSON, b"", 400, "JSON"),
    ("json-null", "POST", "/tasks", JSON, b"null", 400, "object"),
    ("json-array", "POST", "/tasks", JSON, b"[]", 400, "object"),
    ("float-1e400", "POST", "/tasks", JSON, submission('{"numbers": [1e400]}'), 400, "numbers.0"),
    ("float--1e400", "POST", "/tasks", JSON, submission('{"numbers": [-1e400]}'), 400, "numbers"),
    (
        "int-10**400",
        "POST",
        "/tasks",
        JSON,
        submission(f'{{"numbers": [{10**400}]}}'),
        400,
        "numbers.0",
    ),
    (
        "sections-10**400",
        "POST",
        "/tasks",
        JSON,
        submission(f'{{"title": "t", "sections": {10**400}}}', "generate_report"),
        400,
        "sections",
    ),
    (
        "sections-1e400",
        "POST",
        "/tasks",
        JSON,
        submission('{"title": "t", "sections": 1e400}', "generate_report"),
        400,
        "sections",
    ),
    ("nan", "POST", "/tasks", JSON, submission('{"numbers": [1, NaN]}'), 400, "numbers.1"),
    ("infinity", "POST", "/tasks", JSON, submission('{"numbers": [Infinity]}'), 400, "numbers"),
    ("-infinity", "POST", "/tasks", JSON, submission('{"numbers": [-Infinity]}'), 400, "numbers"),
    ("nested-numbers", "POST", "/tasks", JSON, submission(f'{{"numbers": {NESTED}}}'), 400, "JSON"),
    ("nested-body", "POST", "/tasks", JSON, NESTED.encode(), 400, "JSON"),
    (
        "nested-objects",
        "POST",
        "/tasks",
        JSON,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        400,
        "JSON",
    ),
    (
        "lone-surrogate",
        "POST",
        "/tasks",
        JSON,
        submission('{"title": "\\ud800"}', "generate_report"),
        400,
        "JSON",
    ),
    ("text-plain", "POST", "/tasks", {"content-type": "text/plain"}, b"{}", 415, "Content-Type"),
    ("no-content-type", "POST", "/tasks", {}, submission('{"numbers": [1]}'), 415, "Content-Type"),
    (
        "form",
        "POST",
        "/tasks",
        {"content-type": "application/x-www-form-urlencoded"},
        b"task_type=compute_sum",
        415,
        "Content-Type",
    ),
    (
        "multipart",
        "POST",
        "/tasks",
        {"content-type": "multipart/form-data; boundary=x"},
        b"--x--",
        415,
        "Content-Type",
    ),
    (
        "utf-16",
        "POST",
        "/tasks",
        {"content-type": "application/json; charset=utf-16"},
        submission('{"numbers": [1]}').decode().encode("utf-16"),
        400,
        "JSON",
    ),
    ("oversize", "POST", "/tasks", JSON, b" " * (1024 * 1024 + 1), 413, "larger than"),
    (
        "idempotency-key-too-long",
        "POST",
        "/tasks",
        {**JSON, "idempotency-key": "k" * 256},
        submission('{"numbers": [1]}'),
        400,
        "Idempotency-Key",
    ),
    ("get-bad-id", "GET", "/tasks/not-a-uuid", {}, None, 400, "task_id"),
    ("delete-bad-id", "DELETE", "/tasks/not-a-uuid", {}, None, 400, "task_id"),
    ("long-id", "GET", "/tasks/" + "a" * 10_000, {}, None, 400, "task_id"),
    ("nul-id", "GET", "/tasks/%00", {}, None, 400, "task_id"),
    ("unicode-id", "GET", "/tasks/%C3%BC", {}, None, 400, "task_id"),
    ("unknown-id", "GET", f"/tasks/{UUID_TEXT}", {}, None, 404, "not found"),
    ("bad-wait", "GET", f"/tasks/{UUID_TEXT}?wait=maybe", {}, None, 400, "wait"),
    ("bad-status", "GET", "/tasks?status=done", {}, None, 400, "status"),
    ("upper-status", "GET", "/tasks?status=QUEUED", {}, None, 400, "status"),
    ("limit-0", "GET", "/tasks?limit=0", {}, None, 400, "limit"),
    ("limit-negative", "GET", "/tasks?limit=-1", {}, None, 400, "limit"),
    ("limit-too-big", "GET", "/tasks?limit=10001", {}, None, 400, "limit"),
    ("limit-huge", "GET", "/tasks?limit=" + "9" * 400, {}, None, 400, "limit"),
    ("limit-float", "GET", "/tasks?limit=1e3", {}, None, 400, "limit"),
    ("limit-empty", "GET", "/tasks?limit=", {}, None, 400, "limit"),
    ("limit-nul", "GET", "/tasks?limit=%00", {}, None, 400, "limit"),
    ("events-bad-task", "GET", "/events?task_id=nope", {}, None, 400, "task_id"),
    ("put-tasks", "PUT", "/tasks", {}, None, 405, "Method Not Allowed"),
    ("patch-task", "PATCH", f"/tasks/{UUID_TEXT}", {}, None, 405, "Method Not Allowed"),
    ("unknown-path", "GET", "/tasks/x/y", {}, None, 404, "Not Found"),
]


@pytest.mark.parametrize("hostile", [pytest.param(case, id=case[0]) for case in HOSTILE_REQUESTS])
async def test_hostile_input_gets_the_right_4xx_with_a_json_detail(client, hostile):
    _, method, url, headers, body, status, words = hostile
    response = await client.request(method, url, headers=headers, content=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert words in detail


async def test_a_405_names_every_method_of_the_path(client):
    collection = await client.request("OPTIONS", "/tasks")
    assert collection.status_code == 405
    assert set(collection.headers["allow"].split(", ")) == {"GET", "POST"}
    item = await client.put(f"/tasks/{UUID_TEXT}")
    assert set(item.headers["allow"].split(", ")) == {"GET", "DELETE"}
