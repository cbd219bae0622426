"""CORS, skipped for requests that are not cross-origin."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import Receive, Scope, Send


def is_cross_origin(scope: Scope) -> bool:
    """Whether the request carries an ``Origin`` header, as browsers' cross-origin ones do."""
    return any(name == b"origin" for name, _ in scope["headers"])


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS middleware, bypassed when the request has no ``Origin``.

    Only browsers making cross-origin requests send ``Origin``; API clients and
    same-origin pages do not, and for them the middleware's work (parsing headers,
    wrapping ``send`` to add ``Vary: Origin``) is pure cost. The API's answers are never
    cacheable, so no cache can hand one made without ``Origin`` to a browser that sent it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply CORS to cross-origin requests only."""
        if scope["type"] == "http" and not is_cross_origin(scope):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
