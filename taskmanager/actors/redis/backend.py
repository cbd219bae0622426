"""Builds the Redis side of one replica: the connection, and what keeps state there."""

from __future__ import annotations

import random

from taskmanager.actors.clock import Clock
from taskmanager.actors.redis.connection import CommandBatcher, Scripts, connect
from taskmanager.actors.redis.events import EventReader, RedisLog
from taskmanager.actors.redis.queue import RedisQueue
from taskmanager.actors.redis.ratelimiter import RedisRateLimiter
from taskmanager.actors.redis.store import RedisStore
from taskmanager.actors.runtime import Actor
from taskmanager.config import Settings


class RedisState:
    """The queue, the event log, the store gateway and the limiter of one replica."""

    def __init__(self, settings: Settings, replica: str, clock: Clock) -> None:
        assert settings.redis_url is not None  # noqa: S101 - chosen for that reason
        self._settings = settings
        self._replica = replica
        self._clock = clock
        self._redis = connect(settings.redis_url)
        # The reader blocks on the stream: it has a connection of its own.
        self._reading = connect(settings.redis_url, blocking_reads=True)
        self._batcher = CommandBatcher(self._redis)
        self._scripts = Scripts(self._redis, settings.redis_prefix, clock, self._batcher)
        self.queue = RedisQueue(self._redis, self._scripts, settings.redis_prefix, replica)
        self.log = RedisLog(self._redis, settings.redis_prefix)
        self._reader = EventReader(self._reading, self.log)

    def store(self, dispatcher: Actor, rng: random.Random | None) -> RedisStore:
        """The store gateway."""
        return RedisStore(
            redis=self._redis,
            batcher=self._batcher,
            scripts=self._scripts,
            settings=self._settings,
            replica=self._replica,
            dispatcher=dispatcher,
            workers=self._settings.workers,
            clock=self._clock,
            rng=rng,
        )

    def limiter(self) -> RedisRateLimiter:
        """The rate limiter."""
        return RedisRateLimiter(self._settings.rate_limit, self._scripts)

    def attach(self, *, hub: Actor, store: Actor) -> None:
        """Tell the event reader whom to tell what it reads."""
        self._reader.attach(hub=hub, store=store)

    def actors(self) -> tuple[Actor, ...]:
        """The event reader."""
        return (self._reader,)

    async def close(self) -> None:
        """Close both connections."""
        await self._batcher.close()
        await self._reading.aclose()
        await self._redis.aclose()
