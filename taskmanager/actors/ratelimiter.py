"""The rate limiter: a sliding-window log of request times per client."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Any

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import CheckRate, PruneIdle, RateDecision
from taskmanager.actors.runtime import Actor
from taskmanager.config import RateLimit


class RateLimiter(Actor):
    """Allows at most ``limit.requests`` per client in any ``limit.window`` seconds."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        super().__init__("rate-limiter")
        self._limit = limit
        self._clock = clock
        # Least recently seen client first, so pruning stops at the first active one.
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one rate-limiter message."""
        match message:
            case CheckRate(client=client):
                return self._check(client)
            case PruneIdle():
                self._prune()
            case _:
                raise TypeError(f"rate limiter got an unknown message {message!r}")
        return None

    def _check(self, client: str) -> RateDecision:
        now = self._clock.monotonic()
        requests, window = self._limit.requests, self._limit.window
        times = self._clients.get(client)
        if times is None:
            times = self._clients[client] = deque()
        else:
            self._clients.move_to_end(client)
        while times and times[0] <= now - window:
            times.popleft()
        allowed = len(times) < requests
        if allowed:
            times.append(now)
        # The next unit of quota comes back when the oldest counted request leaves the window.
        reset_after = _whole_seconds(times[0] + window - now)
        return RateDecision(
            allowed=allowed,
            limit=requests,
            window=window,
            remaining=requests - len(times),
            reset_after=reset_after,
            retry_after=0 if allowed else max(1, reset_after),
        )

    def _prune(self) -> None:
        horizon = self._clock.monotonic() - self._limit.window
        while self._clients:
            client, times = next(iter(self._clients.items()))
            if times and times[-1] > horizon:
                return
            del self._clients[client]


def _whole_seconds(seconds: float) -> int:
    return max(0, math.ceil(seconds))
