"""The rate limiter on a fake clock."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from support import FakeClock

from taskmanager.actors.messages import CheckRate, PruneIdle
from taskmanager.actors.ratelimiter import RateLimiter
from taskmanager.actors.runtime import Supervisor
from taskmanager.config import RateLimit


async def check_all(limit: RateLimit, gaps: list[float]) -> list[tuple[float, bool, int]]:
    clock = FakeClock()
    limiter = RateLimiter(limit, clock)
    limiter.start(Supervisor())
    decisions = []
    try:
        for gap in gaps:
            await clock.advance(gap)
            decision = await limiter.ask(CheckRate("client"))
            decisions.append((clock.monotonic(), decision.allowed, decision.retry_after))
    finally:
        await limiter.stop()
    return decisions


@settings(deadline=None, max_examples=60)
@given(
    requests=st.integers(1, 5),
    window=st.sampled_from([1, 60]),
    gaps=st.lists(st.floats(0, 30, allow_nan=False), max_size=40),
)
def test_never_more_than_the_limit_in_any_window(requests, window, gaps):
    limit = RateLimit(requests, window)
    decisions = asyncio.run(check_all(limit, [gap * window / 30 for gap in gaps]))
    accepted = [moment for moment, allowed, _ in decisions if allowed]
    for start in accepted:
        in_window = [moment for moment in accepted if start <= moment < start + window]
        assert len(in_window) <= requests
    # A refused request names a wait after which a request does succeed.
    for moment, allowed, retry_after in decisions:
        if not allowed:
            blockers = [m for m in accepted if moment - window < m <= moment]
            assert len(blockers) == requests
            assert retry_after >= min(blockers) + window - moment


async def test_idle_clients_are_forgotten_after_their_window():
    clock = FakeClock()
    limiter = RateLimiter(RateLimit(1, 60), clock)
    limiter.start(Supervisor())
    try:
        for index in range(1000):
            await limiter.ask(CheckRate(f"10.0.{index // 256}.{index % 256}"))
        await clock.advance(61)
        limiter.tell(PruneIdle())
        # A pruned client starts with a full budget again, and so the table stayed small.
        decision = await limiter.ask(CheckRate("10.0.0.0"))
        assert decision.allowed
        assert decision.remaining == 0
        await limiter.ask(CheckRate("10.0.0.1"))
    finally:
        await limiter.stop()
    assert len(limiter._clients) == 2
