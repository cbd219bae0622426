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


#: Answers each item (from ARGV[2] on, ARGV[1] says how many) with itself and a '!';
#: an item 'fail' fails the whole call.
EACH = """
local answers = {}
for i = 1, tonumber(ARGV[1]) do
  if ARGV[i + 1] == 'fail' then
    error('asked to fail')
  end
  answers[i] = ARGV[i + 1] .. '!'
end
return answers
"""


async def test_items_asked_for_in_one_turn_go_in_one_call_and_each_gets_its_answer(
    redis, batcher, monkeypatch
):
    sent: list[tuple[object, ...]] = []
    real_pipeline = redis.pipeline

    def recorded(*args, **kwargs):
        pipe = real_pipeline(*args, **kwargs)
        execute_command = pipe.execute_command

        def record(*command, **options):
            sent.append(command)
            return execute_command(*command, **options)

        pipe.execute_command = record
        return pipe

    monkeypatch.setattr(redis, "pipeline", recorded)
    head = ("EVAL", EACH, 0)
    words = [f"w{n}" for n in range(150)]
    answers = await asyncio.gather(
        batcher.execute("PING"), *(batcher.execute_item("each", head, (w,)) for w in words)
    )
    assert answers == [True, *(f"{w}!" for w in words)]
    # One pipeline: the command, then the items in calls of at most 100.
    assert [command[:4] for command in sent] == [("PING",), (*head, 100), (*head, 50)]
    assert sent[1][4:] == tuple(words[:100])


async def test_a_call_that_fails_fails_each_of_its_items_and_nothing_else(batcher):
    head = ("EVAL", EACH, 0)
    answers = await asyncio.gather(
        batcher.execute_item("each", head, ("a",)),
        batcher.execute_item("each", head, ("fail",)),
        batcher.execute_item("other", head, ("b",)),
        return_exceptions=True,
    )
    assert [type(answer) for answer in answers[:2]] == [ResponseError, ResponseError]
    assert answers[2] == "b!"


async def test_submissions_at_hand_when_redis_lost_the_library_are_each_made_once(
    redis, batcher, prefix
):
    scripts = Scripts(redis, prefix, SystemClock(), batcher)
    await scripts("ratelimit", "client", 10, 60_000_000, "request-0")  # the library is there
    await redis.function_flush()
    ids = [str(uuid.uuid4()) for _ in range(5)]
    task = ("compute_sum", '{"numbers":[1]}', 0, 0, "", 0, "", "", "", 100, "1")
    answers = await asyncio.gather(*(scripts("submit", i, *task) for i in ids))
    assert [answer[0] for answer in answers] == ["created"] * 5
    assert await redis.zcard(f"{prefix}:idx:all") == 5
