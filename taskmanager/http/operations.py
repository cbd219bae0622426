"""The task operations, from request parts to a finished reply.

Shared by the FastAPI routes, which document these operations, and the fast path, which
serves the two hottest of them straight from ASGI. Either way a client gets the same
status codes, headers and bodies.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, assert_never
from uuid import UUID

from fastapi.responses import Response
from pydantic import ValidationError
from starlette.types import Receive, Send

from taskmanager.actors.messages import (
    CancelTask,
    CheckRate,
    Counted,
    GetTask,
    KeyReused,
    RateDecision,
    Replayed,
    ShuttingDown,
    StoreFull,
    StoreUnavailable,
    SubmitCounted,
    SubmitOutcome,
    SubmitTask,
    UnknownDependency,
    Viewer,
    WatchTask,
)
from taskmanager.actors.model import ParametersObject, Task, TaskStatus
from taskmanager.actors.runtime import ActorStoppedError, MailboxFullError, UnavailableError
from taskmanager.actors.system import ActorSystem
from taskmanager.http.schemas import TASK, ConflictBody, TaskRequests, options_of

if TYPE_CHECKING:  # admission answers with these operations' replies
    from taskmanager.http.admission import Caller

MAX_BODY: Final = 1024 * 1024
JSON_MEDIA_TYPE: Final = "application/json"
IDEMPOTENCY_KEY: Final = re.compile(r"[\x21-\x7e]{1,255}")
#: What an actor that cannot answer now raises: the client is told to retry shortly.
BUSY_ERRORS: Final = (TimeoutError, ActorStoppedError, MailboxFullError, UnavailableError)

type Header = tuple[bytes, bytes]
type Headers = tuple[Header, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON answer: status, body and the headers beyond the content type."""

    status: int
    body: bytes
    headers: Headers = ()

    def response(self) -> Response:
        """The reply as a Starlette response."""
        headers = {name.decode(): value.decode() for name, value in self.headers}
        return Response(self.body, self.status, headers=headers, media_type=JSON_MEDIA_TYPE)


def error(status: int, detail: str, headers: Headers = ()) -> Reply:
    """An error reply: JSON with a ``detail``."""
    return Reply(status, json.dumps({"detail": detail}).encode(), headers)


def task_reply(task: Task, headers: Headers = ()) -> Reply:
    """A 200 with the task."""
    return Reply(200, TASK.dump_json(task), headers)


def not_found(task_id: UUID) -> Reply:
    """The 404 for an unknown or cleaned-up task (or one the caller may not see)."""
    return error(404, f"task {task_id} not found")


def is_json(content_type: str) -> bool:
    """Whether a Content-Type names JSON (``application/json`` or ``application/*+json``)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def too_large(content_length: str | None) -> bool:
    """Whether a declared Content-Length passes the limit, so the body need not be read."""
    return (
        content_length is not None and content_length.isdigit() and int(content_length) > MAX_BODY
    )


BODY_TOO_LARGE: Final = error(413, f"the body is larger than {MAX_BODY} bytes")
# The connection goes too: what is left of the body may still be on its way.
BODY_TOO_SLOW: Final = error(
    408, "the request body did not arrive in time", ((b"connection", b"close"),)
)
# Nobody reads this answer; it says what happened, for the server's access log.
HUNG_UP: Final = error(400, "the client hung up before its body was complete")


class BodyIncompleteError(Exception):
    """The client hung up before the end of its request body."""


class BodyTooLargeError(Exception):
    """The request body passed ``MAX_BODY`` while it arrived."""


async def read_body(receive: Receive, timeout: float) -> bytes:
    """The whole request body, which must arrive within ``timeout`` seconds.

    Raises ``TimeoutError`` when it does not, ``BodyTooLargeError`` past ``MAX_BODY``,
    and ``BodyIncompleteError`` when the client hangs up first: a body cut short may
    still parse as a submission, and must not become one.
    """
    async with asyncio.timeout(timeout):
        message = await receive()
        if message["type"] != "http.request":
            raise BodyIncompleteError
        body: bytes = message.get("body", b"")
        if len(body) > MAX_BODY:
            raise BodyTooLargeError
        if not message.get("more_body", False):
            return body  # the usual case: the whole body in one message
        chunks = [body]
        size = len(body)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise BodyIncompleteError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


BUSY: Final = error(
    503, "the service is busy or shutting down; retry shortly", ((b"retry-after", b"1"),)
)
INTERNAL_ERROR: Final = error(500, "internal server error")


def rate_headers(decision: RateDecision) -> list[Header]:
    """The IETF draft's RateLimit-Policy and RateLimit fields."""
    return [
        (b"ratelimit-policy", b'"default";q=%d;w=%d' % (decision.limit, decision.window)),
        (b"ratelimit", b'"default";r=%d;t=%d' % (decision.remaining, decision.reset_after)),
    ]


def too_many_requests(decision: RateDecision) -> Reply:
    """The 429 for a refused request, with the wait in Retry-After."""
    detail = (
        f"rate limit exceeded: {decision.limit} requests per {decision.window} s; "
        f"retry in {decision.retry_after} s"
    )
    return error(429, detail, ((b"retry-after", b"%d" % decision.retry_after),))


def rated(reply: Reply, decision: RateDecision) -> Reply:
    """``reply`` if the rate limit allowed the request, else the 429; with the RateLimit fields."""
    if not decision.allowed:
        reply = too_many_requests(decision)
    return Reply(reply.status, reply.body, (*reply.headers, *rate_headers(decision)))


async def send_reply(send: Send, reply: Reply, extra_headers: Iterable[Header] = ()) -> None:
    """Answer with ``reply`` straight from ASGI."""
    body = reply.body
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *reply.headers,
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _location(task_id: UUID) -> Header:
    return (b"location", b"/tasks/%s" % str(task_id).encode())


async def read_json_body(
    content_type: str, content_length: str | None, receive: Receive, timeout: float
) -> bytes | Reply:
    """A request's JSON body, or the reply for one not JSON, too large, too slow or cut off."""
    if not is_json(content_type):
        return error(415, f"Content-Type must be application/json, got {content_type!r}")
    if too_large(content_length):
        return BODY_TOO_LARGE
    try:
        return await read_body(receive, timeout)
    except TimeoutError:
        return BODY_TOO_SLOW
    except BodyTooLargeError:
        return BODY_TOO_LARGE
    except BodyIncompleteError:
        return HUNG_UP


async def submit(  # noqa: PLR0913 - the parts of the request, by name
    system: ActorSystem,
    requests: TaskRequests,
    *,
    content_type: str,
    content_length: str | None,
    idempotency_key: str | None,
    receive: Receive,
    caller: Caller,
    counts_here: bool = False,
) -> Reply:
    """Read and validate a submission and hand it to the store.

    With ``counts_here``, admission left the caller's rate limit to this step: a valid
    submission goes to the store counted (in one step with its making), and any other
    answer is counted alone first, so that over the limit the answer is 429 all the same.
    """
    checked = await _submission(
        system,
        requests,
        content_type=content_type,
        content_length=content_length,
        idempotency_key=idempotency_key,
        receive=receive,
        caller=caller,
    )
    if not counts_here:
        if isinstance(checked, Reply):
            return checked
        return _submitted(await system.store.ask(checked))
    if isinstance(checked, Reply):
        return rated(checked, await system.limiter.ask(CheckRate(caller.client)))
    match await system.store.ask(SubmitCounted(checked, caller.client)):
        case Counted(decision=decision, outcome=outcome):
            if outcome is None:  # over the limit: nothing made
                return rated(too_many_requests(decision), decision)
            if isinstance(outcome, StoreUnavailable):
                return rated(BUSY, decision)
            return rated(_submitted(outcome), decision)
        case ShuttingDown() as outcome:  # neither made nor counted
            decision = await system.limiter.ask(CheckRate(caller.client))
            return rated(_submitted(outcome), decision)
        case unexpected:
            assert_never(unexpected)


async def _submission(  # noqa: PLR0913 - the parts of the request, by name
    system: ActorSystem,
    requests: TaskRequests,
    *,
    content_type: str,
    content_length: str | None,
    idempotency_key: str | None,
    receive: Receive,
    caller: Caller,
) -> SubmitTask | Reply:
    """The submission a request asks for, or the reply for one that asks for none."""
    body = await read_json_body(content_type, content_length, receive, system.settings.body_timeout)
    if isinstance(body, Reply):
        return body
    try:
        request = requests.validate_json(body)
    except ValidationError as exc:
        return error(400, requests.describe(exc))
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        return error(400, "Idempotency-Key: 1 to 255 visible ASCII characters")
    return SubmitTask(
        request.task_type,
        ParametersObject.of(request.parameters),
        options_of(request),
        idempotency_key,
        caller.key_name,
        depends_on=tuple(request.depends_on),
        viewer=caller.viewer,
    )


def _submitted(outcome: SubmitOutcome) -> Reply:
    match outcome:
        case Task(task_id=task_id) as task:
            # The whole task, so a client needs no second request (which could fail
            # after the task exists, and whose retry would submit it again).
            return Reply(202, TASK.dump_json(task), (_location(task_id),))
        case Replayed(task=task):
            return task_reply(task, (_location(task.task_id),))
        case KeyReused(task_id=task_id):
            detail = f"Idempotency-Key was already used for another request (task {task_id})"
            return error(409, detail)
        case StoreFull(retry_after=retry_after):
            retry = ((b"retry-after", str(math.ceil(retry_after)).encode()),)
            return error(503, "the task store is full", retry)
        case ShuttingDown():
            return error(503, "the service is shutting down", ((b"retry-after", b"5"),))
        case UnknownDependency(task_id=task_id):
            return error(400, f"depends_on: task {task_id} not found")
        case unexpected:
            assert_never(unexpected)


async def read(
    system: ActorSystem, task_id: UUID, *, wait: bool, receive: Receive, viewer: Viewer
) -> Reply:
    """The task now, or (``wait``) once its status changes or the long-poll times out."""
    task = await system.store.ask(GetTask(task_id, viewer))
    if task is not None and wait and not task.status.terminal:
        task = await _wait_for_change(system, task, receive, viewer)
    if task is None:
        return not_found(task_id)
    return task_reply(task)


async def _wait_for_change(
    system: ActorSystem, task: Task, receive: Receive, viewer: Viewer
) -> Task | None:
    """Sleep on the store's notification, the timeout, or the client hanging up."""
    changed = await system.store.ask(WatchTask(task.task_id, task.status, viewer))
    hung_up = asyncio.ensure_future(disconnected(receive))
    try:
        await asyncio.wait(
            (changed, hung_up),
            timeout=system.settings.long_poll_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        changed.cancel()  # withdraws the watch from the store if it is still open
        hung_up.cancel()
    if changed.done() and not changed.cancelled():
        return changed.result()
    return await system.store.ask(GetTask(task.task_id, viewer))


async def cancel(system: ActorSystem, task_id: UUID, viewer: Viewer) -> Reply:
    """Cancel the task: 200 with it once cancelled, 409 when it had already ended."""
    task = await system.store.ask(CancelTask(task_id, viewer))
    if task is None:
        return not_found(task_id)
    if task.status is TaskStatus.CANCELLED:
        return task_reply(task)
    conflict = ConflictBody(detail=f"task {task_id} already {task.status}", task=task)
    return Reply(409, conflict.model_dump_json().encode())


async def disconnected(receive: Receive) -> None:
    """Return once the client has hung up."""
    while (await receive())["type"] != "http.disconnect":
        pass


#: What a cursor looks like: every string of this form continues some listing.
CURSOR_PATTERN: Final = r"^c[0-9a-z]{1,13}$"
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_cursor(after: int) -> str:
    """The opaque ``cursor`` that continues a listing after position ``after``."""
    digits = ""
    while True:
        after, digit = divmod(after, 36)
        digits = _BASE36[digit] + digits
        if not after:
            return "c" + digits


def decode_cursor(cursor: str) -> int:
    """The position a cursor (already checked against ``CURSOR_PATTERN``) continues after."""
    return int(cursor[1:], 36)
