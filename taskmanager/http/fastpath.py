"""The two hottest requests, served straight from ASGI.

``POST /tasks`` and ``GET /tasks/{id}`` are most of the traffic a task service sees, and
a held long-poll is most of its memory. FastAPI still declares both routes (that is
their documentation, and the fallback for anything unusual, such as a malformed id or an
unusual query), but the common requests skip its middleware stack, routing, parameter
parsing and response objects. The same admission comes before both, and the same
``operations`` answer both, so clients see the same status codes, headers and bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final
from uuid import UUID

from starlette.types import ASGIApp, Receive, Scope, Send

from taskmanager.actors.system import ActorSystem
from taskmanager.http import operations
from taskmanager.http.admission import caller_of, counted_by_store
from taskmanager.http.operations import BUSY_ERRORS, Reply
from taskmanager.http.schemas import TaskRequests

logger = logging.getLogger(__name__)

_WAIT: Final = {b"": False, b"wait=false": False, b"wait=true": True}
_PREFIX: Final = "/tasks/"


class FastPath:
    """Answers ``POST /tasks`` and plain ``GET /tasks/{id}``; passes everything else on.

    It sits behind admission, like the app, so it sees only admitted requests.
    """

    def __init__(self, app: ASGIApp, *, system: ActorSystem, requests: TaskRequests) -> None:
        self.app = app
        self.system = system
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a hot request, or hand the request to the app."""
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == "/tasks":
                await _answer(send, self._submit, scope, receive)
                return
            if method == "GET" and path.startswith(_PREFIX):
                task_id = _task_id(path[len(_PREFIX) :])
                wait = _WAIT.get(scope["query_string"])
                if task_id is not None and wait is not None:
                    await _answer(send, self._read, scope, receive, task_id, wait)
                    return
        await self.app(scope, receive, send)

    async def _submit(self, scope: Scope, receive: Receive) -> Reply:
        content_type = content_length = idempotency_key = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif name == b"content-length" and content_length is None:
                content_length = value.decode("latin-1")
            elif name == b"idempotency-key" and idempotency_key is None:
                idempotency_key = value.decode("latin-1")
        return await operations.submit(
            self.system,
            self.requests,
            content_type=content_type or "",
            content_length=content_length,
            idempotency_key=idempotency_key,
            receive=receive,
            caller=caller_of(scope),
            counts_here=counted_by_store(scope),
        )

    async def _read(self, scope: Scope, receive: Receive, task_id: UUID, wait: bool) -> Reply:  # noqa: FBT001
        viewer = caller_of(scope).viewer
        return await operations.read(
            self.system, task_id, wait=wait, receive=receive, viewer=viewer
        )


def _task_id(text: str) -> UUID | None:
    # Only the canonical form; FastAPI answers the rest (other spellings, or a 400).
    if len(text) != 36:  # noqa: PLR2004 - the length of a hyphenated UUID
        return None
    try:
        return UUID(text)
    except ValueError:
        return None


async def _answer[*A](send: Send, operation: Callable[[*A], Awaitable[Reply]], *args: *A) -> None:
    try:
        reply = await operation(*args)
    except BUSY_ERRORS:
        reply = operations.BUSY
    except Exception:
        logger.exception("unhandled error")
        reply = operations.INTERNAL_ERROR
    await operations.send_reply(send, reply)
