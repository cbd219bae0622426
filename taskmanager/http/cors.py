"""CORS, skipped for requests that carry no ``Origin``."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import Receive, Scope, Send


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS middleware, bypassed when the request has no ``Origin`` header.

    Browsers send ``Origin`` on every cross-origin request, and on same-origin ones too
    except GET and HEAD; API clients send none. Without it there is nothing for CORS to
    answer, and the middleware's work (parsing headers, wrapping ``send`` to add
    ``Vary: Origin``) is pure cost. The API's answers are never cacheable, so no cache can
    hand one made without ``Origin`` to a browser that sent it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply CORS to requests with an ``Origin`` only."""
        if scope["type"] == "http" and not any(name == b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
