"""The connection to Redis, the scripts, and Redis's errors turned into a 503.

Timeouts are short enough that a request needing an unreachable Redis is answered 503
within two seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import (
    BusyLoadingError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskmanager.actors.clock import Clock, SystemClock
from taskmanager.actors.redis.records import to_us
from taskmanager.actors.runtime import UnavailableError

# A request that needs Redis answers within 2 s even when Redis hangs: one try of at most
# CONNECT + COMMAND seconds, and one more after a short pause (a dropped connection).
CONNECT_SECONDS: Final = 0.5
COMMAND_SECONDS: Final = 0.7
CONNECTIONS: Final = 64
READER_NAME: Final = "taskmanager-events"
#: How long the event reader blocks on the stream in one call.
READ_BLOCK_MS: Final = 1_000
#: Events the stream keeps (Redis trims whole nodes, so a few more).
EVENTS_KEPT: Final = 100_000
SCRIPTS: Final = (
    "submit",
    "claim",
    "start",
    "progress",
    "finish",
    "cancel",
    "release",
    "sweep",
    "heartbeat",
    "reap",
    "ratelimit",
)


def connect(url: str, *, blocking_reads: bool = False) -> Redis:
    """A client for ``url``; ``blocking_reads`` for the event reader's own connection."""
    command_seconds = READ_BLOCK_MS / 1000 + COMMAND_SECONDS if blocking_reads else COMMAND_SECONDS
    pool = BlockingConnectionPool.from_url(
        url,
        # Named, so that an operator (or a test) finds the event reader in CLIENT LIST.
        client_name=READER_NAME if blocking_reads else "taskmanager",
        max_connections=2 if blocking_reads else CONNECTIONS,
        timeout=COMMAND_SECONDS,  # waiting for a free connection
        decode_responses=True,
        socket_connect_timeout=CONNECT_SECONDS,
        socket_timeout=command_seconds,
        retry=Retry(ConstantBackoff(0.05), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes them all


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Turn "Redis cannot answer now" into ``UnavailableError`` (the client gets a 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ReadOnlyError) as exc:
        raise UnavailableError(f"Redis cannot be reached: {exc}") from exc
    except ResponseError as exc:
        if str(exc).startswith(("OOM", "MASTERDOWN", "LOADING")):
            raise UnavailableError(f"Redis refused: {exc}") from exc
        raise


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means Redis cannot answer now (as opposed to a bug)."""
    return isinstance(error, UnavailableError | RedisConnectionError | RedisTimeoutError)


class Scripts:
    """The Lua scripts, each with the shared prelude; every call names the key prefix.

    redis-py runs a script by its hash and sends it again when Redis lost it (a restart).
    """

    def __init__(self, redis: Redis, prefix: str, clock: Clock) -> None:
        lua = resources.files(__package__) / "lua"
        prelude = (lua / "prelude.lua").read_text(encoding="utf-8")
        self._scripts = {
            name: redis.register_script(prelude + (lua / f"{name}.lua").read_text(encoding="utf-8"))
            for name in SCRIPTS
        }
        self._prefix = prefix
        # With the real clock every replica uses Redis's: one clock for the whole service.
        self._clock = None if isinstance(clock, SystemClock) else clock

    def now(self) -> str:
        """The time scripts use: '' (Redis's own) unless a test brought its own clock."""
        if self._clock is None:
            return ""
        return str(to_us(self._clock.now()))

    async def __call__(self, name: str, *args: object) -> Any:  # noqa: ANN401 - a script's reply
        """Run script ``name`` with ``args`` (after the prefix, the log length and the time)."""
        with reachable():
            return await self._scripts[name](
                args=[self._prefix, EVENTS_KEPT, self.now(), *(str(arg) for arg in args)]
            )
