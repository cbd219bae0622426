"""Builds the Redis side of one replica: the connection, and what keeps state there."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Final

from taskmanager.actors.clock import Clock
from taskmanager.actors.redis.connection import CommandBatcher, Scripts, connect, is_unreachable
from taskmanager.actors.redis.events import EventReader, RedisLog
from taskmanager.actors.redis.inbox import Doorbell, Inbox
from taskmanager.actors.redis.queue import RedisQueue
from taskmanager.actors.redis.ratelimiter import RedisRateLimiter
from taskmanager.actors.redis.schedules import RedisScheduler
from taskmanager.actors.redis.store import RedisStore
from taskmanager.actors.runtime import Actor
from taskmanager.config import Settings

logger = logging.getLogger(__name__)

#: Seconds between tries to reach Redis at start-up.
START_RETRY_SECONDS: Final = 0.5
#: Seconds between the lines saying that start-up still waits for Redis.
START_LOG_SECONDS: Final = 5.0


class RedisState:
    """The queue, the event log, the store gateway and the limiter of one replica."""

    def __init__(self, settings: Settings, replica: str, clock: Clock) -> None:
        assert settings.redis_url is not None  # noqa: S101 - chosen for that reason
        self._settings = settings
        self._replica = replica
        self._clock = clock
        self._redis = connect(settings.redis_url)
        # The readers block on Redis: each has a connection of its own.
        self._reading = connect(settings.redis_url, blocking_reads=True)
        self._batcher = CommandBatcher(self._redis)
        self._scripts = Scripts(self._redis, settings.redis_prefix, clock, self._batcher)
        self._doorbell = Doorbell(self._reading, settings.redis_prefix)
        self._inbox = Inbox(self._reading, settings.redis_prefix, replica)
        self.queue = RedisQueue(
            self._redis, self._scripts, settings.redis_prefix, replica, self._doorbell
        )
        self.log = RedisLog(self._redis, settings.redis_prefix)
        self._reader = EventReader(self._reading, self.log)
        self.log.attach(self._reader)
        self._dispatcher: Actor | None = None

    async def wait_reachable(self) -> None:
        """Return once Redis answers; until then try again, and say so now and every few seconds.

        Redis may come up after the replicas (a compose file starting both): a replica
        that cannot reach it waits, rather than serving 503s or giving up.
        """
        waiting_since: float | None = None
        logged = 0.0
        while True:
            try:
                await self._redis.ping()
            except Exception as error:
                if not is_unreachable(error):
                    raise
                now = time.monotonic()
                if waiting_since is None or now - logged >= START_LOG_SECONDS:
                    waiting_since = waiting_since or now
                    logged = now
                    logger.warning(
                        "start-up is waiting for Redis (%.0f s so far; trying every %s s): %s",
                        now - waiting_since,
                        START_RETRY_SECONDS,
                        error,
                    )
                # Real time, whatever the replica's clock: Redis comes back in real time.
                await asyncio.sleep(START_RETRY_SECONDS)
            else:
                if waiting_since is not None:
                    logger.info("Redis reached after %.1f s", time.monotonic() - waiting_since)
                return

    def store(self, dispatcher: Actor, rng: random.Random | None) -> RedisStore:
        """The store gateway."""
        self._dispatcher = dispatcher
        return RedisStore(
            redis=self._redis,
            batcher=self._batcher,
            scripts=self._scripts,
            settings=self._settings,
            replica=self._replica,
            dispatcher=dispatcher,
            doorbell=self._doorbell,
            workers=self._settings.workers,
            clock=self._clock,
            rng=rng,
        )

    def limiter(self) -> RedisRateLimiter:
        """The rate limiter."""
        return RedisRateLimiter(self._settings.rate_limit, self._scripts)

    def scheduler(self) -> RedisScheduler:
        """The schedules."""
        return RedisScheduler(
            redis=self._redis,
            scripts=self._scripts,
            prefix=self._settings.redis_prefix,
            clock=self._clock,
            max_tasks=self._settings.max_tasks,
        )

    def attach(self, *, hub: Actor, store: Actor) -> None:
        """Tell the readers whom to tell what they read."""
        assert self._dispatcher is not None  # noqa: S101 - the store is made first
        self._reader.attach(hub=hub)
        self._inbox.attach(store=store, dispatcher=self._dispatcher)
        self._doorbell.attach(dispatcher=self._dispatcher)

    def actors(self) -> tuple[Actor, ...]:
        """The event reader, the inbox and the doorbell."""
        return (self._reader, self._inbox, self._doorbell)

    async def close(self) -> None:
        """Close both connections."""
        await self._batcher.close()
        await self._reading.aclose()
        await self._redis.aclose()
