"""The rate limiter's windows in Redis, shared by every replica.

One sliding-window log per client, checked and recorded by one script:
the rate limit script for a request alone, the submit script for a submission (which
counts it in the same step as it makes the task).
"""

from __future__ import annotations

import itertools
import math
import secrets
from collections.abc import Iterator
from typing import Any

from taskmanager.actors.messages import CheckRate, PruneIdle, RateDecision
from taskmanager.actors.redis.connection import Scripts
from taskmanager.actors.runtime import Actor, Later
from taskmanager.config import RateLimit


def request_names() -> Iterator[str]:
    """Names for requests' entries in a window that no request on any replica has.

    A replica's random name and a count: a script sent again names its request alike.
    """
    return map(f"{secrets.token_hex(8)}:{{}}".format, itertools.count())


def window_args(limit: RateLimit, client: str, name: str) -> tuple[str, int, int, str]:
    """What a script needs to count request ``name`` of ``client``."""
    return (client, limit.requests, limit.window * 1_000_000, name)


def decision_of(
    limit: RateLimit, allowed: int | str, counted: int | str, reset_us: int | str
) -> RateDecision:
    """The decision from a script's answer: allowed, requests in the window, µs to reset."""
    reset_after = max(0, math.ceil(int(reset_us) / 1_000_000))
    return RateDecision(
        allowed=bool(int(allowed)),
        limit=limit.requests,
        window=limit.window,
        remaining=limit.requests - int(counted),
        reset_after=reset_after,
        retry_after=0 if int(allowed) else max(1, reset_after),
    )


class RedisRateLimiter(Actor):
    """Allows at most ``limit.requests`` per client in any window, across all replicas."""

    def __init__(self, limit: RateLimit, scripts: Scripts) -> None:
        super().__init__("rate-limiter")
        self._limit = limit
        self._scripts = scripts
        self._names = request_names()

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
        args = window_args(self._limit, client, next(self._names))
        allowed, counted, reset_us = await self._scripts("ratelimit", *args)
        return decision_of(self._limit, allowed, counted, reset_us)
