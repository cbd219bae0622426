"""The two hottest requests, served straight from ASGI.

``POST /tasks`` and ``GET /tasks/{id}`` are most of the traffic a task service sees, and
a held long-poll is most of its memory. FastAPI still declares both routes (that is
their documentation, and the fallback for anything unusual, such as a malformed id or a
cross-origin request), but the common requests skip its middleware stack, routing,
parameter parsing and response objects: the same rate-limit admission and the same
``operations`` answer them, so clients see the same status codes, headers and bodies.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Final
from uuid import UUID

from starlette.types import ASGIApp, Receive, Scope, Send

from taskmanager.actors.runtime import ActorStoppedError, MailboxFullError
from taskmanager.actors.system import ActorSystem
from taskmanager.http import operations
from taskmanager.http.cors import is_cross_origin
from taskmanager.http.operations import Reply
from taskmanager.http.ratelimit import admit

logger = logging.getLogger(__name__)

_WAIT: Final = {b"": False, b"wait=false": False, b"wait=true": True}
_PREFIX: Final = "/tasks/"


class FastPath:
    """Answers ``POST /tasks`` and plain ``GET /tasks/{id}``; passes everything else on."""

    def __init__(self, app: ASGIApp, *, system: ActorSystem) -> None:
        self.app = app
        self.system = system

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a hot request, or hand the request to the app."""
        if scope["type"] == "http" and (answer := self._route(scope, receive)) is not None:
            if is_cross_origin(scope):
                answer.close()  # cross-origin: the app adds the CORS headers
            else:
                trusted = self.system.settings.trusted_proxies
                headers = await admit(self.system.limiter, scope, send, trusted)
                if headers is None:
                    answer.close()  # refused, and answered, by the limiter
                else:
                    await _answer(send, answer, headers)
                return
        await self.app(scope, receive, send)

    def _route(self, scope: Scope, receive: Receive) -> _Operation | None:
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/tasks":
            return self._submit(scope, receive)
        if method == "GET" and path.startswith(_PREFIX):
            task_id = _task_id(path[len(_PREFIX) :])
            wait = _WAIT.get(scope["query_string"])
            if task_id is not None and wait is not None:
                return operations.read(self.system, task_id, wait=wait, receive=receive)
        return None

    def _submit(self, scope: Scope, receive: Receive) -> _Operation:
        content_type = content_length = idempotency_key = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"content-length" and content_length is None:
                content_length = value.decode("latin-1")
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value.decode("latin-1")
        return operations.submit(
            self.system,
            content_type=content_type or "",
            content_length=content_length,
            idempotency_key=idempotency_key,
            body=_body(receive),
        )


type _Operation = Coroutine[None, None, Reply]


def _task_id(text: str) -> UUID | None:
    # Only the canonical form; FastAPI answers the rest (other spellings, or a 400).
    if len(text) != 36:  # noqa: PLR2004 - the length of a hyphenated UUID
        return None
    try:
        return UUID(text)
    except ValueError:
        return None


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client hung up; what came so far is all there is
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _answer(send: Send, operation: _Operation, headers: list[tuple[bytes, bytes]]) -> None:
    try:
        reply = await operation
    except (TimeoutError, ActorStoppedError, MailboxFullError):
        reply = operations.BUSY
    except Exception:
        logger.exception("unhandled error")
        reply = operations.INTERNAL_ERROR
    await operations.send_reply(send, reply, headers)
