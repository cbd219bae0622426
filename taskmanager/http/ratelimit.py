"""Per-client rate limiting as plain ASGI middleware that asks the rate-limiter actor."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.actors.messages import CheckRate, RateDecision
from taskmanager.actors.runtime import Actor, ActorStoppedError, MailboxFullError
from taskmanager.config import IPNetwork
from taskmanager.http.operations import BUSY, error, send_reply

# The API proper; the docs, the health check and the monitor's files are not counted.
COUNTED_PREFIXES = ("/tasks", "/events")


def is_counted(path: str) -> bool:
    """Whether a request to ``path`` counts against the client's limit."""
    for prefix in COUNTED_PREFIXES:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return True
    return False


def client_key(scope: Scope, trusted: tuple[IPNetwork, ...]) -> str:
    """The address the limit applies to: the socket peer, or what trusted proxies forwarded.

    IPv6 clients are keyed by their /64, the block one subscriber usually gets.
    """
    peer = scope.get("client")
    host = peer[0] if peer else ""
    if not trusted and "." in host and ":" not in host:
        return host  # an IPv4 peer, as the server wrote it: already canonical
    address = _parse(host)
    if address is not None and trusted and _is_trusted(address, trusted):
        forwarded = _forwarded_for(scope["headers"])
        # Walk from the nearest hop outwards; the first untrusted hop is the client.
        for hop in reversed(forwarded):
            hop_address = _parse(hop)
            if hop_address is None:
                break
            address = hop_address
            if not _is_trusted(hop_address, trusted):
                break
    if address is None:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _is_trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: tuple[IPNetwork, ...]
) -> bool:
    return any(address in network for network in trusted)


def _forwarded_for(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    hops: list[str] = []
    for name, value in headers:
        if name == b"x-forwarded-for":
            hops += value.decode("latin-1").split(",")
    return hops


def rate_headers(decision: RateDecision) -> list[tuple[bytes, bytes]]:
    """The IETF draft's RateLimit-Policy and RateLimit fields."""
    return [
        (b"ratelimit-policy", f'"default";q={decision.limit};w={decision.window}'.encode()),
        (b"ratelimit", f'"default";r={decision.remaining};t={decision.reset_after}'.encode()),
    ]


async def admit(
    limiter: Actor, scope: Scope, send: Send, trusted_proxies: tuple[IPNetwork, ...]
) -> list[tuple[bytes, bytes]] | None:
    """Count the request; the RateLimit headers to add when it may go on.

    When it may not, answer it here (429, or 503 when the limiter cannot be asked) and
    return None.
    """
    try:
        decision = await limiter.ask(CheckRate(client_key(scope, trusted_proxies)))
    except (TimeoutError, ActorStoppedError, MailboxFullError):
        await send_reply(send, BUSY)
        return None
    headers = rate_headers(decision)
    if not decision.allowed:
        await _too_many_requests(send, decision, headers)
        return None
    return headers


class RateLimitMiddleware:
    """Counts each API request against its client; over the limit, answers 429."""

    def __init__(
        self, app: ASGIApp, *, limiter: Actor, trusted_proxies: tuple[IPNetwork, ...]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the limit before the request reaches the app."""
        if scope["type"] != "http" or not is_counted(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = await admit(self.limiter, scope, send, self.trusted_proxies)
        if headers is None:
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _too_many_requests(
    send: Send, decision: RateDecision, headers: list[tuple[bytes, bytes]]
) -> None:
    detail = (
        f"rate limit exceeded: {decision.limit} requests per {decision.window} s; "
        f"retry in {decision.retry_after} s"
    )
    retry = ((b"retry-after", str(decision.retry_after).encode()),)
    await send_reply(send, error(429, detail, retry), headers)
