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
#: The scripts that take items: what one turn of the event loop asks of one of them goes
#: in one call (ITEMS_PER_CALL at most), each item's arguments padded to its width, and
#: each caller gets its item's answer. The commands a script runs once per call (the
#: rate window's upkeep, the index and queue writes, the sequence numbers, the call
#: itself) are then shared by the tasks submitted together.
ITEM_WIDTHS: Final = {"submit": 19}
ITEMS_PER_CALL: Final = 100


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


type _Command = tuple[str | int, ...]


class _Items:
    """Items for one function, asked for in one turn: sent as one call (or a few)."""

    __slots__ = ("head", "items")

    def __init__(self, head: _Command) -> None:
        self.head = head
        self.items: list[tuple[_Command, asyncio.Future[Any]]] = []

    def calls(self) -> Iterator[tuple[_Command, list[asyncio.Future[Any]]]]:
        """Each call to send, and the replies its items wait for, in order."""
        items = [(item, reply) for item, reply in self.items if not reply.done()]
        for first in range(0, len(items), ITEMS_PER_CALL):
            chunk = items[first : first + ITEMS_PER_CALL]
            args = [arg for item, _ in chunk for arg in item]
            yield (*self.head, len(chunk), *args), [reply for _, reply in chunk]


class CommandBatcher:
    """Sends the commands asked for in one turn of the event loop as one pipeline.

    Under load many requests wait on Redis at once. Sent one by one, each command costs
    redis-py a connection from the pool, a write and a read: about 40 µs of this
    process's CPU, the largest share of a request on Redis. In one pipeline a command
    costs about 8 µs, and Redis reads and answers them with one system call each way.
    The pipeline is no transaction: the commands stay as independent as they were sent
    one by one, and each caller gets its own reply or error. Items of a function that
    takes several (``execute_item``) go in one call of it: one reply, one error, for all.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._asked: list[tuple[_Command, asyncio.Future[Any]] | _Items] = []
        self._items: dict[_Command, _Items] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._closed = False

    async def execute(self, *args: str | int) -> Any:  # noqa: ANN401 - the command's reply
        """Run one command, in the next pipeline, and return its reply (or raise its error)."""
        reply = self._reply()
        self._asked.append((args, reply))
        return await reply

    async def execute_item(self, key: _Command, head: _Command, item: _Command) -> Any:  # noqa: ANN401 - the item's reply
        """Run ``item`` in the next pipeline's call ``head`` of the items with this ``key``.

        The call's arguments are ``head``, the number of items, then each item's; its
        reply is the list of theirs, in order. The first item's ``head`` is the call's.
        """
        reply = self._reply()
        items = self._items.get(key)
        if items is None:
            items = self._items[key] = _Items(head)
            self._asked.append(items)
        items.items.append((item, reply))
        return await reply

    def _reply(self) -> asyncio.Future[Any]:
        if self._closed:
            raise UnavailableError("the connection to Redis is closed")
        loop = asyncio.get_running_loop()
        if not self._asked:
            # Sent once the callers that run in this turn of the loop have asked too.
            loop.call_soon(self._send_asked)
        return loop.create_future()

    def _send_asked(self) -> None:
        asked, self._asked, self._items = self._asked, [], {}
        calls: list[tuple[_Command, list[asyncio.Future[Any]] | asyncio.Future[Any]]] = []
        for each in asked:
            if isinstance(each, _Items):
                calls.extend(each.calls())
            elif not each[1].done():  # gave up
                calls.append(each)
        if calls:
            sending = asyncio.create_task(self._send(calls), name="redis:pipeline")
            self._sending.add(sending)
            sending.add_done_callback(self._sending.discard)

    async def _send(
        self, calls: list[tuple[_Command, list[asyncio.Future[Any]] | asyncio.Future[Any]]]
    ) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for args, _ in calls:
                    pipe.execute_command(*args)
                answers = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            self._fail(calls, UnavailableError("the connection to Redis was closed"))
            raise
        except Exception as error:  # noqa: BLE001 - every caller gets it, as if sent alone
            self._fail(calls, error)
            return
        for (_, replies), answer in zip(calls, answers, strict=True):
            if not isinstance(replies, list):
                _answer(replies, answer)
            elif isinstance(answer, Exception):
                for reply in replies:
                    _answer(reply, answer)
            else:
                for reply, each in zip(replies, answer, strict=True):
                    _answer(reply, each)

    @staticmethod
    def _fail(
        calls: list[tuple[_Command, list[asyncio.Future[Any]] | asyncio.Future[Any]]],
        error: Exception,
    ) -> None:
        for _, replies in calls:
            for reply in replies if isinstance(replies, list) else [replies]:
                _answer(reply, error)

    async def close(self) -> None:
        """Take no more commands; a pipeline still on its way fails its callers."""
        self._closed = True
        asked, self._asked, self._items = self._asked, [], {}
        error = UnavailableError("the connection to Redis is closed")
        for each in asked:
            for reply in [r for _, r in each.items] if isinstance(each, _Items) else [each[1]]:
                _answer(reply, error)
        for sending in self._sending:
            sending.cancel()
        if self._sending:
            await asyncio.wait(self._sending)


def _answer(reply: asyncio.Future[Any], answer: Any) -> None:  # noqa: ANN401 - a reply
    """Give a caller still waiting its reply, or its error."""
    if reply.done():
        return
    if isinstance(answer, Exception):
        reply.set_exception(answer)
    else:
        reply.set_result(answer)


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
        """Run script ``name`` with ``args`` (after the prefix, the log length and the time).

        A script that takes items (ITEM_WIDTHS) runs ``args`` as one item, in one call
        with the others asked for in this turn; the reply is the item's.
        """
        function = self._functions[name]
        now = "" if self._judge_on_redis and name in ON_REDIS_CLOCK else self.now()
        head: tuple[str | int, ...] = ("FCALL", function, 0, self._prefix, EVENTS_KEPT, now)
        width = ITEM_WIDTHS.get(name)
        item = tuple(str(arg) for arg in args)
        if width is not None:
            item += ("",) * (width - len(item))
        with reachable():
            for loaded in (False, True):
                try:
                    if width is None:
                        return await self._batcher.execute(*head, *item)
                    return await self._batcher.execute_item((function, self._prefix), head, item)
                except ResponseError as error:
                    if loaded or not str(error).startswith("Function not found"):
                        raise
                    await self._redis.function_load(self._library, replace=True)
        raise AssertionError  # pragma: no cover - the loop returns or raises


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
            f" callback = function(_, ARGV)\nbegin(ARGV)\n"
            f"local reply = (function()\n{body}\nend)()\nclose()\nreturn reply\nend}}\n"
        )
    return f"#!lua name=taskmanager_{tag}\n" + "\n".join(code), functions
