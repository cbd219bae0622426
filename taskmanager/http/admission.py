"""Admission: the one plain-ASGI layer every request passes before anything answers it.

It decides who the caller is and counts the request against the caller's rate limit;
the fast path and the FastAPI routes both sit behind it, so a check added here holds
for every request, whichever of them answers. One exception, for the backend that can:
a submission is counted by the step that makes it (one script on Redis, not two), and
its handler answers the limit's 429 or fields itself, just as admission would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.actors.messages import CheckRate, Viewer
from taskmanager.actors.runtime import Actor
from taskmanager.config import IPNetwork
from taskmanager.http.operations import (
    BUSY,
    BUSY_ERRORS,
    error,
    rate_headers,
    send_reply,
    too_many_requests,
)
from taskmanager.keys import KeyRing

# The API proper; the docs, the health check and the monitor's files are not counted.
COUNTED_PREFIXES: Final = ("/tasks", "/events", "/schedules", "/queue")
# With API keys, these need one; the docs, the health check and the monitor's files do not.
PROTECTED_PREFIXES: Final = (*COUNTED_PREFIXES, "/stats", "/metrics")
#: Where the caller is kept in the ASGI scope for the handlers.
CALLER: Final = "taskmanager.caller"
#: Set in the ASGI scope of a submission whose rate limit the store counts as it makes it.
COUNTED_BY_STORE: Final = "taskmanager.counted_by_store"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: what the rate limit counts, and which tasks it may see."""

    client: str
    key_name: str | None = None
    admin: bool = False

    @property
    def viewer(self) -> Viewer:
        """The owner whose tasks this caller sees, or None for every task."""
        return None if self.admin else self.key_name


#: The caller of a request that admission did not look at (tests driving a route alone).
ANYONE: Final = Caller("unknown")


def caller_of(scope: Scope) -> Caller:
    """The caller admission decided on for this request."""
    caller: Caller = scope.get(CALLER, ANYONE)
    return caller


def counted_by_store(scope: Scope) -> bool:
    """Whether admission left this submission's rate limit to the step that makes it."""
    counted: bool = scope.get(COUNTED_BY_STORE, False)
    return counted


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    for prefix in prefixes:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return True
    return False


def is_counted(path: str) -> bool:
    """Whether a request to ``path`` counts against the client's limit."""
    return _under(path, COUNTED_PREFIXES)


def is_protected(path: str) -> bool:
    """Whether a request to ``path`` needs a key when the service has API keys."""
    return _under(path, PROTECTED_PREFIXES)


def bearer_token(scope: Scope) -> str | None:
    """The key in ``Authorization: Bearer <key>``, if the request sent one."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def client_address(scope: Scope, trusted: tuple[IPNetwork, ...]) -> str:
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


UNAUTHORIZED: Final = error(
    401,
    "this API needs a valid key: send it as 'Authorization: Bearer <key>'",
    ((b"www-authenticate", b'Bearer realm="taskmanager"'),),
)


class Admission:
    """Decides who the caller is, counts API requests against its limit, checks its key.

    With API keys, a request with a valid key is counted against that key, any other
    against its address, on every path that needs a key, so guessing keys is limited
    everywhere alike. A refused request is answered
    here (429, 401, or 503 when the limiter cannot answer); an admitted one goes on with
    the caller in its scope and the RateLimit fields added to its answer.

    With ``store_counts_submissions`` (Redis), a ``POST /tasks`` from a caller with a
    valid key or none needed goes on uncounted, marked so: its handler has the store count
    it in the step that makes the task, or the limiter count it first when it makes none,
    and answers with the same 429 or RateLimit fields. One script instead of two.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: Actor,
        trusted_proxies: tuple[IPNetwork, ...],
        keys: KeyRing | None = None,
        store_counts_submissions: bool = False,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies
        self.keys = keys
        self.store_counts_submissions = store_counts_submissions

    def _caller(self, scope: Scope) -> Caller | None:
        """Who sent the request; None when it needs a key and has no valid one."""
        holder = None
        if self.keys is not None and (token := bearer_token(scope)) is not None:
            holder = self.keys.holder(token)
        if holder is not None:
            return Caller(f"key:{holder.name}", holder.name, holder.admin)
        caller = Caller(client_address(scope, self.trusted_proxies))
        if self.keys is not None and is_protected(scope["path"]):
            scope[CALLER] = caller  # counted against the address, then refused
            return None
        return caller

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit the request, or answer it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is not None:
            scope[CALLER] = caller
        # A request refused for its key counts on every path, even those a valid key
        # reads for free: else keys could be guessed there without limit.
        if caller is not None and not is_counted(scope["path"]):
            await self.app(scope, receive, send)
            return
        if (
            self.store_counts_submissions
            and caller is not None
            and scope["path"] == "/tasks"
            and scope["method"] == "POST"
        ):
            scope[COUNTED_BY_STORE] = True
            await self.app(scope, receive, send)
            return
        try:
            decision = await self.limiter.ask(CheckRate(caller_of(scope).client))
        except BUSY_ERRORS:
            await send_reply(send, BUSY)
            return
        headers = rate_headers(decision)
        if not decision.allowed:
            await send_reply(send, too_many_requests(decision), headers)
            return
        if caller is None:
            await send_reply(send, UNAUTHORIZED, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
