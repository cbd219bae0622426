"""The command batcher: what many callers ask for at once goes to Redis as one pipeline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from enum import IntEnum

import pytest
from conftest import REDIS_PORTS, flush_prefix
from redis.asyncio import Connection, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ResponseError

from bench.server import free_port
from taskmanager.actors.clock import SystemClock
from taskmanager.actors.redis.connection import CommandBatcher, Scripts, connect
from taskmanager.actors.runtime import UnavailableError


@pytest.fixture
def prefix(redis_url) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    flush_prefix(redis_url, name)


@pytest.fixture
async def redis(redis_url) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def batcher(redis) -> AsyncIterator[CommandBatcher]:
    batcher = CommandBatcher(redis)
    yield batcher
    await batcher.close()


async def test_commands_asked_for_in_one_turn_go_to_redis_as_one_pipeline(
    redis, batcher, prefix, monkeypatch
):
    pipelines = []
    real_pipeline = redis.pipeline

    def counted(*args, **kwargs):
        pipelines.append(kwargs)
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(redis, "pipeline", counted)
    replies = await asyncio.gather(*(batcher.execute("INCR", f"{prefix}:n") for _ in range(20)))
    assert sorted(replies) == list(range(1, 21))
    assert pipelines == [{"transaction": False}]


async def test_each_caller_gets_its_own_reply_or_error(batcher, prefix):
    key = f"{prefix}:word"
    replies = await asyncio.gather(
        batcher.execute("SET", key, "hello"),
        batcher.execute("INCR", key),
        batcher.execute("GET", key),
        return_exceptions=True,
    )
    assert replies[0] is True
    assert isinstance(replies[1], ResponseError)
    assert replies[2] == "hello"


async def test_replies_are_parsed_as_redis_py_parses_them_alone(redis, batcher, prefix):
    key = f"{prefix}:hash"
    await redis.hset(key, mapping={"status": "queued", "progress": "0"})
    assert await batcher.execute("HGETALL", key) == await redis.hgetall(key)
    assert await batcher.execute("HGETALL", f"{prefix}:none") == {}


async def test_a_caller_that_gives_up_before_the_pipeline_leaves_sends_nothing(batcher, prefix):
    key = f"{prefix}:n"
    gave_up = asyncio.ensure_future(batcher.execute("INCR", key))
    await asyncio.sleep(0)  # it has asked
    gave_up.cancel()
    assert await batcher.execute("INCR", key) == 1


async def test_a_script_redis_lost_is_loaded_again_and_run_once(redis, batcher, prefix):
    scripts = Scripts(redis, prefix, SystemClock(), batcher)
    await redis.script_flush()
    allowed, counted, _ = await scripts("ratelimit", "client", 10, 60_000_000, "request-1")
    assert (allowed, counted) == (1, 1)
    assert await redis.zcard(f"{prefix}:rl:client") == 1


async def test_every_caller_learns_that_redis_cannot_be_reached():
    unreachable = connect(f"redis://127.0.0.1:{free_port(REDIS_PORTS)}/0")
    batcher = CommandBatcher(unreachable)
    try:
        replies = await asyncio.gather(
            *(batcher.execute("GET", "key") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(reply, RedisConnectionError) for reply in replies)
        scripts = Scripts(unreachable, "tm", SystemClock(), batcher)
        with pytest.raises(UnavailableError):
            await scripts("ratelimit", "client", 10, 60_000_000, "request-1")
    finally:
        await batcher.close()
        await unreachable.aclose()


async def test_callers_still_waiting_when_it_closes_are_told_redis_is_unavailable(redis):
    batcher = CommandBatcher(redis)
    waiting = asyncio.ensure_future(batcher.execute("PING"))
    await asyncio.sleep(0)  # it has asked; the pipeline leaves at the end of this turn
    await batcher.close()
    with pytest.raises(UnavailableError):
        await waiting
    with pytest.raises(UnavailableError):
        await batcher.execute("PING")


async def test_commands_packed_by_hiredis_reach_redis_as_redis_py_would_send_them(
    redis, redis_url, prefix
):
    packed = redis.connection_pool.make_connection()
    plain = Connection()
    odd = (
        *("SET", f"{prefix}:k", "naïve ✓ \r\n $3", 7, 0.1, b"\x00bytes", bytearray(b"ba")),
        *(IntEnum("Small", "ONE").ONE, memoryview(b"view"), "CLIENT KILL"),
    )
    assert type(packed).__name__ == "HiredisConnection"
    assert b"".join(packed.pack_command(*odd)) == b"".join(plain.pack_command(*odd))
    for wrong in (None, True, [1]):
        with pytest.raises(DataError):
            packed.pack_command("SET", f"{prefix}:k", wrong)
    # Another text encoding is redis-py's to apply, not hiredis's UTF-8.
    latin = connect(f"{redis_url}?encoding=latin-1")
    plain_latin = Connection(encoding="latin-1")
    as_latin = latin.connection_pool.make_connection().pack_command("SET", "k", "naïve")
    assert b"".join(as_latin) == b"".join(plain_latin.pack_command("SET", "k", "naïve"))
    await latin.aclose()
    # And through the client: what went in comes back.
    await redis.set(f"{prefix}:k", "naïve ✓ \r\n")
    await redis.hset(f"{prefix}:h", mapping={"f": 0.1, "n": 7})
    assert await redis.get(f"{prefix}:k") == "naïve ✓ \r\n"
    assert await redis.hgetall(f"{prefix}:h") == {"f": "0.1", "n": "7"}
