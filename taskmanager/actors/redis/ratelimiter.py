"""The rate limiter's windows in Redis, shared by every replica.

One sliding-window log per client, checked and recorded by one script on Redis's clock.
"""

from __future__ import annotations

import itertools
import math
import secrets
from typing import Any

from taskmanager.actors.messages import CheckRate, PruneIdle, RateDecision
from taskmanager.actors.redis.connection import Scripts
from taskmanager.actors.runtime import Actor, Later
from taskmanager.config import RateLimit


class RedisRateLimiter(Actor):
    """Allows at most ``limit.requests`` per client in any window, across all replicas."""

    def __init__(self, limit: RateLimit, scripts: Scripts) -> None:
        super().__init__("rate-limiter")
        self._limit = limit
        self._scripts = scripts
        # Each request's entry in a window needs a name no other request has, on any
        # replica: this replica's random name and a count.
        self._names = map(f"{secrets.token_hex(8)}:{{}}".format, itertools.count())

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one rate-limiter message."""
        match message:
            case CheckRate(client=client):
                return Later(self._check(client))
            case PruneIdle():
                pass  # each client's key expires one window after its last request
            case _:
                raise TypeError(f"rate limiter got an unknown message {message!r}")
        return None

    async def _check(self, client: str) -> RateDecision:
        requests, window = self._limit.requests, self._limit.window
        allowed, counted, reset_us = await self._scripts(
            "ratelimit", client, requests, window * 1_000_000, next(self._names)
        )
        reset_after = max(0, math.ceil(int(reset_us) / 1_000_000))
        return RateDecision(
            allowed=bool(allowed),
            limit=requests,
            window=window,
            remaining=requests - int(counted),
            reset_after=reset_after,
            retry_after=0 if allowed else max(1, reset_after),
        )
