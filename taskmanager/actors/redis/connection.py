"""The connection to Redis, the scripts, and Redis's errors turned into a 503.

Timeouts are short enough that a request needing an unreachable Redis is answered 503
within two seconds. Scripts and single reads go through a ``CommandBatcher``, which
sends what many callers ask for at once as one pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from importlib import resources
from typing import Any, Final

import hiredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import (
    BusyLoadingError,
    OutOfMemoryError,
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
#: Readers that block on Redis, each on a connection of its own: the event reader, the
#: inbox and the doorbell.
BLOCKING_READERS: Final = 3
#: How long the event reader blocks on the stream in one call.
READ_BLOCK_MS: Final = 1_000
#: Events the stream keeps (Redis trims whole nodes, so a few more).
EVENTS_KEPT: Final = 100_000
SCRIPTS: Final = (
    "submit",
    "claim",
    "progress",
    "finish",
    "cancel",
    "release",
    "sweep",
    "heartbeat",
    "reap",
    "ratelimit",
    "watch",
    "schedule_put",
    "schedule_delete",
    "fire",
    "pause",
)
#: The scripts that run while Redis is at maxmemory (all others are refused then): those
#: that take the service forward or free memory (claims, finishes, cancels, removal,
#: leases, the rate check, long-poll watches); submissions, progress and schedule changes
#: wait until there is room.
ALLOW_OOM: Final = frozenset(
    {"claim", "finish", "cancel", "release", "sweep", "heartbeat", "reap", "ratelimit"}
    | {"watch", "schedule_delete"}
)
#: The scripts that judge whether replicas are alive (lease deadlines) read Redis's clock;
#: the others take the calling replica's, as BullMQ's and SAQ's do: a TIME call less in
#: every step of a task. Replicas' clocks must agree (NTP) for times and windows to.
ON_REDIS_CLOCK: Final = frozenset({"heartbeat", "reap"})


def connect(url: str, *, blocking_reads: bool = False) -> Redis:
    """A client for ``url``; ``blocking_reads`` for the event reader's own connection."""
    command_seconds = READ_BLOCK_MS / 1000 + COMMAND_SECONDS if blocking_reads else COMMAND_SECONDS
    pool = BlockingConnectionPool.from_url(
        url,
        # Named, so that an operator (or a test) finds the event reader in CLIENT LIST.
        client_name=READER_NAME if blocking_reads else "taskmanager",
        # The event reader, the inbox and the doorbell each block on one of their own.
        max_connections=BLOCKING_READERS + 1 if blocking_reads else CONNECTIONS,
        timeout=COMMAND_SECONDS,  # waiting for a free connection
        decode_responses=True,
        socket_connect_timeout=CONNECT_SECONDS,
        socket_timeout=command_seconds,
        retry=Retry(ConstantBackoff(0.05), 1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    pool.connection_class = _packed_by_hiredis(pool.connection_class)
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes them all


class _HiredisPacking(AbstractConnection):
    """Commands packed by hiredis, in C, as redis-py's own synchronous client does.

    redis-py's asyncio connections pack in Python: about 11 us for a script's call, against
    1 us here, on every command a request sends. What hiredis would pack differently (a
    text encoding other than UTF-8, a type it does not take) goes to redis-py's own packer,
    so the bytes and the errors are always redis-py's.
    """

    def pack_command(self, *args: Any) -> list[bytes]:  # noqa: ANN401 - redis-py's signature
        encoder = self.encoder
        if encoder.encoding not in _UTF8 or encoder.encoding_errors != "strict":
            return super().pack_command(*args)
        command = args
        if isinstance(command[0], str):  # a command name may hold arguments ("CLIENT KILL")
            command = (*command[0].encode().split(), *command[1:])
        elif b" " in command[0]:
            command = (*command[0].split(), *command[1:])
        # redis-py writes floats with repr(); hiredis would write them its own way.
        command = tuple(repr(arg) if isinstance(arg, float) else arg for arg in command)
        try:
            return [hiredis.pack_command(command)]
        except TypeError:
            return super().pack_command(*args)  # packs it, or raises redis-py's DataError


_UTF8: Final = frozenset({"utf-8", "utf8", "UTF-8", "UTF8"})


def _packed_by_hiredis(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (plain, TLS or Unix socket, as the URL says) packing with hiredis."""
    return type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """Turn "Redis cannot answer now" into ``UnavailableError`` (the client gets a 503)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, BusyLoadingError, ReadOnlyError) as exc:
        raise UnavailableError(f"Redis cannot be reached: {exc}") from exc
    except OutOfMemoryError as exc:
        # At maxmemory (noeviction) Redis refuses what may grow it; reads still work.
        raise UnavailableError(f"Redis is out of memory: {exc}") from exc
    except ResponseError as exc:
        if str(exc).startswith(("OOM", "MASTERDOWN", "LOADING")):
            raise UnavailableError(f"Redis refused: {exc}") from exc
        raise


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means Redis cannot answer now (as opposed to a bug)."""
    return isinstance(error, UnavailableError | RedisConnectionError | RedisTimeoutError)


class CommandBatcher:
    """Sends the commands asked for in one turn of the event loop as one pipeline.

    Under load many requests wait on Redis at once. Sent one by one, each command costs
    redis-py a connection from the pool, a write and a read: about 40 µs of this
    process's CPU, the largest share of a request on Redis. In one pipeline a command
    costs about 8 µs, and Redis reads and answers them with one system call each way.
    The pipeline is no transaction: the commands stay as independent as they were sent
    one by one, and each caller gets its own reply or error.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._asked: list[tuple[tuple[str | int, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    async def execute(self, *args: str | int) -> Any:  # noqa: ANN401 - the command's reply
        """Run one command, in the next pipeline, and return its reply (or raise its error)."""
        if self._closed:
            raise UnavailableError("the connection to Redis is closed")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        self._asked.append((args, reply))
        if len(self._asked) == 1:
            # Sent once the callers that run in this turn of the loop have asked too.
            loop.call_soon(self._send_asked)
        return await reply

    def _send_asked(self) -> None:
        asked, self._asked = self._asked, []
        asked = [(args, reply) for args, reply in asked if not reply.done()]  # gave up
        if asked:
            sending = asyncio.create_task(self._send(asked), name="redis:pipeline")
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)

    async def _send(self, asked: list[tuple[tuple[str | int, ...], asyncio.Future[Any]]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for args, _ in asked:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            self._fail(asked, UnavailableError("the connection to Redis was closed"))
            raise
        except Exception as error:  # noqa: BLE001 - every caller gets it, as if sent alone
            self._fail(asked, error)
            return
        for (_, reply), answer in zip(asked, replies, strict=True):
            if reply.done():
                continue
            if isinstance(answer, Exception):
                reply.set_exception(answer)
            else:
                reply.set_result(answer)

    @staticmethod
    def _fail(
        asked: list[tuple[tuple[str | int, ...], asyncio.Future[Any]]], error: Exception
    ) -> None:
        for _, reply in asked:
            if not reply.done():
                reply.set_exception(error)

    async def close(self) -> None:
        """Take no more commands; a pipeline still on its way fails its callers."""
        self._closed = True
        self._fail(self._asked, UnavailableError("the connection to Redis is closed"))
        self._asked = []
        for sending in self._sending:
            sending.cancel()
        if self._sending:
            await asyncio.wait(self._sending)


class Scripts:
    """The Lua scripts: the functions of one library, each call naming the key prefix.

    The library (the shared prelude, then each script as a function) is loaded into
    Redis once, so a call runs only its own script: as separate scripts, each call ran
    the prelude again (about 5 us of Redis's time a call). Calls are batched with other
    commands (through ``batcher``, or a batcher of their own). The library's name and its
    functions' carry a digest of its code: replicas of two versions, during an upgrade,
    each call their own. A Redis that lost it (a restart without persistence) is given it
    again at the first call that misses it.
    """

    def __init__(
        self, redis: Redis, prefix: str, clock: Clock, batcher: CommandBatcher | None = None
    ) -> None:
        self._library, self._functions = _library()
        self._redis = redis
        self._batcher = batcher or CommandBatcher(redis)
        self._prefix = prefix
        self._clock = clock
        # With the real clock, the scripts that judge whether a replica is alive read
        # Redis's clock: a replica's clock that is off must never get another declared dead.
        self._judge_on_redis = isinstance(clock, SystemClock)

    def now(self) -> str:
        """This replica's time in µs, as the per-task scripts take it (no TIME per task)."""
        return str(to_us(self._clock.now()))

    async def __call__(self, name: str, *args: object) -> Any:  # noqa: ANN401 - a script's reply
        """Run script ``name`` with ``args`` (after the prefix, the log length and the time)."""
        function = self._functions[name]
        now = "" if self._judge_on_redis and name in ON_REDIS_CLOCK else self.now()
        argv: list[str | int] = [self._prefix, EVENTS_KEPT, now, *(str(arg) for arg in args)]
        with reachable():
            try:
                return await self._batcher.execute("FCALL", function, 0, *argv)
            except ResponseError as error:
                if not str(error).startswith("Function not found"):
                    raise
                await self._redis.function_load(self._library, replace=True)
                return await self._batcher.execute("FCALL", function, 0, *argv)


def _library() -> tuple[str, dict[str, str]]:
    """The library's code, and the name of each script's function in it."""
    lua = resources.files(__package__) / "lua"
    code = [(lua / "prelude.lua").read_text(encoding="utf-8")]
    bodies = {name: (lua / f"{name}.lua").read_text(encoding="utf-8") for name in SCRIPTS}
    digest = hashlib.sha256("".join([code[0], *bodies.values(), *sorted(ALLOW_OOM)]).encode())
    tag = digest.hexdigest()[:16]
    functions = {name: f"taskmanager_{tag}_{name}" for name in SCRIPTS}
    for name, body in bodies.items():
        flags = "'allow-oom'" if name in ALLOW_OOM else ""
        code.append(
            f"redis.register_function{{function_name = '{functions[name]}', flags = {{{flags}}},"
            f" callback = function(_, ARGV)\nbegin(ARGV)\n{body}\nend}}\n"
        )
    return f"#!lua name=taskmanager_{tag}\n" + "\n".join(code), functions
