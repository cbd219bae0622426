"""Admission: how the client's address is decided, before the rate limit counts it."""

from __future__ import annotations

import gc

import pytest
from support import http_scope

from taskmanager.config import Settings
from taskmanager.http.admission import client_address


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


def trusted(text: str):
    return Settings.model_validate({"trusted_proxies": text}).trusted_proxies


def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert client_address(scope("203.0.113.7", "198.51.100.1"), ()) == "203.0.113.7"
    proxies = trusted("10.0.0.1")
    assert client_address(scope("203.0.113.7", "198.51.100.1"), proxies) == "203.0.113.7"


def test_a_trusted_proxy_passes_on_the_nearest_untrusted_hop():
    proxies = trusted("10.0.0.0/8")
    assert client_address(scope("10.0.0.1", "198.51.100.1"), proxies) == "198.51.100.1"
    # The client cannot prepend a fake hop: the rightmost untrusted address wins.
    assert client_address(scope("10.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.2"), proxies) == (
        "198.51.100.1"
    )
    assert client_address(scope("10.0.0.1", "garbage"), proxies) == "10.0.0.1"


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_ipv6_clients_are_keyed_by_their_slash_64(peer, key):
    assert client_address(scope(peer), ()) == key


async def test_a_refused_request_whose_client_is_gone_leaves_nothing_unawaited(make_client):
    """The fast path makes its answer only once admission let the request through."""
    client = await make_client(rate_limit="1/minute")
    assert (await client.get("/tasks")).status_code == 200

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        raise OSError("the client is gone")

    headers = ((b"content-type", b"application/json"),)
    scope = http_scope("/tasks", method="POST", headers=headers)
    with pytest.raises(OSError, match="gone"):
        await client.app(scope, receive, send)
    gc.collect()  # a coroutine never awaited would warn here, and warnings are errors


@pytest.mark.parametrize("path", ["/tasks", "/tasks/3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"])
async def test_a_limiter_that_cannot_answer_gives_503_on_every_path(make_client, path):
    client = await make_client()
    await client.app.state.system.limiter.stop()
    response = await client.get(path)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    posted = await client.post("/tasks", json={"task_type": "compute_sum"})
    assert posted.status_code == 503
