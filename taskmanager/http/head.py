"""HEAD on the API: answered as GET would be, without the body.

FastAPI's routes declare GET only, so a HEAD found no route and fell through to the
monitor's files: a 404 for a task that GET finds.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.http.admission import is_protected
from taskmanager.http.operations import error, send_reply

#: An event stream never ends, so there is no "GET without the body" to answer with.
STREAMS: Final = ("/events",)
NOT_FOR_STREAMS: Final = error(405, "Method Not Allowed: the event stream is read with GET")


class HeadAsGet:
    """Answers ``HEAD`` on an API path with the status and headers ``GET`` would get."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on as a GET and drop its body, or answer 405 for a stream."""
        if scope["type"] != "http" or scope["method"] != "HEAD" or not _is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["path"] in STREAMS:
            await send_reply(send, NOT_FOR_STREAMS, ((b"allow", b"GET"),))
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        # A copy: the server reads the method from its own scope to know that a HEAD
        # response has no body, whatever its Content-Length says.
        await self.app({**scope, "method": "GET"}, receive, without_body)


def _is_api(path: str) -> bool:
    return is_protected(path) or path == "/healthz"
