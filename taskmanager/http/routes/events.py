"""The live event stream (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Final, get_args
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, WithJsonSchema
from starlette.types import Receive, Scope, Send

from taskmanager.actors.events import (
    Event,
    EventHub,
    EventKind,
    Resync,
    Subscribe,
    Subscription,
    Unsubscribe,
)
from taskmanager.actors.runtime import ActorStoppedError
from taskmanager.http.admission import caller_of
from taskmanager.http.operations import disconnected

router = APIRouter(tags=["events"])

HEARTBEAT_SECONDS: Final = 15.0
# Most events a stream writes in one chunk when they arrive in a burst.
BATCH: Final = 256
EVENT: Final = TypeAdapter(Event)
RESYNC: Final = b'event: resync\ndata: {"kind":"resync"}\n\n'

EXAMPLE = (
    "retry: 2000\n\n"
    'id: 9f3c2a7e-7\nevent: completed\ndata: {"id":"9f3c2a7e-7","kind":"completed",'
    '"task_id":"3f2b8c1e-...",'
    '"status":"completed","progress":1.0,"task":{"task_id":"3f2b8c1e-...","status":"completed"}}'
    "\n\n: ping\n\n"
)

# One message of the stream, as OpenAPI 3.1 tools read a `text/event-stream` schema.
SSE_EVENT: Final = {
    "type": "object",
    "properties": {
        "event": {
            "type": "string",
            "enum": [*get_args(EventKind.__value__), "resync"],
        },
        "id": {"type": "string", "description": "Opaque; send it back as `Last-Event-ID`"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "The event as JSON (`kind`, `task_id`, `status`, `progress`, `task`)",
        },
    },
    "required": ["event", "data"],
}


def encode(delivery: Event | Resync) -> bytes:
    """One SSE message."""
    if isinstance(delivery, Resync):
        return RESYNC
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        delivery.id.encode(),
        delivery.kind.encode(),
        EVENT.dump_json(delivery),
    )


class EventStreamResponse(Response):
    """Streams a subscription until the client leaves or the hub closes it."""

    media_type = "text/event-stream"

    def __init__(self, hub: EventHub, subscription: Subscription, heartbeat: float) -> None:
        super().__init__()
        self.hub = hub
        self.subscription = subscription
        self.heartbeat = heartbeat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        """Run the stream; a hang-up frees the subscription at once."""
        hung_up = asyncio.ensure_future(disconnected(receive))
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await self._send(send, b"retry: 2000\n\n")
            await self._pump(send, hung_up)
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the client went away mid-write
        finally:
            hung_up.cancel()
            with contextlib.suppress(ActorStoppedError):
                self.hub.tell(Unsubscribe(self.subscription.id))

    async def _pump(self, send: Send, hung_up: asyncio.Future[None]) -> None:
        queue = self.subscription.queue
        while not hung_up.done():
            getter = asyncio.ensure_future(queue.get())
            try:
                await asyncio.wait(
                    (getter, hung_up), timeout=self.heartbeat, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                getter.cancel()  # the server cancelled the stream: leave no getter behind
                raise
            if not getter.done():
                getter.cancel()
                if not hung_up.done():
                    await self._send(send, b": ping\n\n")
                continue
            deliveries = [getter.result()]
            while len(deliveries) < BATCH and not queue.empty():
                deliveries.append(queue.get_nowait())
            chunk = b"".join(encode(item) for item in deliveries if item is not None)
            if chunk:
                await self._send(send, chunk)
            if None in deliveries:
                return

    @staticmethod
    async def _send(send: Send, body: bytes) -> None:
        await send({"type": "http.response.body", "body": body, "more_body": True})


@router.get(
    "/events",
    status_code=200,
    summary="Stream task changes (Server-Sent Events)",
    description=(
        "One event per change: submitted, started, progress, retrying, completed, failed, "
        "cancelled, removed. Each has an opaque `id`; reconnect with `Last-Event-ID` to get "
        "what you missed. An id the log cannot continue exactly (too old, from before a "
        "restart, from another deployment, or malformed) gets one `resync` event first: "
        "reload `GET /tasks`. A `: ping` comment every 15 s keeps the connection open. "
        "Counts once against the rate limit, when it opens."
    ),
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "The event stream",
            "content": {"text/event-stream": {"schema": SSE_EVENT, "example": EXAMPLE}},
        },
        400: {"description": "A malformed task id"},
        429: {"description": "Too many requests from this client"},
    },
)
async def stream_events(
    request: Request,
    task_id: Annotated[UUID | None, Query(description="Only this task's events")] = None,
    last_event_id: Annotated[
        str | None,
        # A header is never JSON null: document the string only.
        WithJsonSchema({"type": "string"}),
        Header(alias="Last-Event-ID", description="Resume after this event"),
    ] = None,
) -> EventStreamResponse:
    """Open a subscription and stream it."""
    hub: EventHub = request.app.state.system.events
    viewer = caller_of(request.scope).viewer
    subscription = await hub.ask(Subscribe(task_id, last_event_id, viewer))
    return EventStreamResponse(hub, subscription, request.app.state.heartbeat)
