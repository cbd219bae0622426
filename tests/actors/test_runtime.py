"""The actor runtime, through its public interface: tell, ask, Kill, stop, supervision."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from support import settle

from taskmanager.actors import (
    Actor,
    ActorStoppedError,
    Kill,
    MailboxFullError,
    Request,
    Supervisor,
)
from taskmanager.actors.runtime import ActorKilledError


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Total(Request[int]):
    pass


@dataclass(frozen=True)
class Fail(Request[None]):
    pass


@dataclass(frozen=True)
class Block(Request[None]):
    release: asyncio.Event


class Counter(Actor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("counter", **kwargs)
        self.total = 0
        self.crashes: list[Exception] = []
        self.stopped = False

    async def receive(self, message: Any) -> Any:
        match message:
            case Add(amount=amount):
                self.total += amount
            case Total():
                return self.total
            case Fail():
                raise ValueError("asked to fail")
            case Block(release=release):
                await release.wait()
        return None

    async def on_crash(self, error: Exception) -> None:
        self.crashes.append(error)

    async def on_stop(self) -> None:
        self.stopped = True


@pytest.fixture
async def counter():
    supervisor = Supervisor(max_crashes=2, period=60)
    actor = Counter()
    actor.start(supervisor)
    yield actor, supervisor
    await actor.stop()


async def test_messages_are_handled_in_the_order_they_were_told(counter):
    actor, _ = counter
    for amount in (1, 2, 3):
        actor.tell(Add(amount))
    assert await actor.ask(Total()) == 6


async def test_an_error_in_an_ask_reaches_the_caller_and_the_actor_goes_on(counter):
    actor, supervisor = counter
    with pytest.raises(ValueError, match="asked to fail"):
        await actor.ask(Fail())
    actor.tell(Add(5))
    assert await actor.ask(Total()) == 5
    assert len(actor.crashes) == 1
    assert supervisor.crash_count == 1


async def test_an_ask_that_is_not_answered_in_time_raises_timeout(counter):
    actor, _ = counter
    release = asyncio.Event()
    blocked = asyncio.create_task(actor.ask(Block(release)))
    await settle()
    with pytest.raises(TimeoutError):
        await actor.ask(Total(), timeout=0.01)
    release.set()
    await blocked
    # The timed-out ask was skipped, not answered late; the actor still works.
    assert await actor.ask(Total()) == 0


async def test_kill_makes_the_supervisor_resume_the_actor_with_its_mailbox(counter):
    actor, supervisor = counter
    actor.tell(Add(1))
    actor.tell(Kill())
    actor.tell(Add(2))
    assert await actor.ask(Total()) == 3
    assert [type(error) for error in actor.crashes] == [ActorKilledError]
    assert actor.alive
    assert supervisor.healthy


async def test_more_crashes_than_allowed_mark_the_system_unhealthy(counter):
    actor, supervisor = counter
    for _ in range(3):
        actor.tell(Kill())
    await actor.ask(Total())
    assert not supervisor.healthy
    assert actor.alive


async def test_asks_still_queued_when_the_actor_stops_get_an_error():
    actor = Counter()
    actor.start(Supervisor())
    release = asyncio.Event()
    blocked = asyncio.create_task(actor.ask(Block(release)))
    await settle()
    queued = asyncio.create_task(actor.ask(Total()))
    await settle()
    await actor.stop(grace=0.01)
    with pytest.raises(ActorStoppedError):
        await queued
    with pytest.raises(ActorStoppedError):
        await blocked
    assert actor.stopped
    assert not actor.alive
    with pytest.raises(ActorStoppedError):
        actor.tell(Add(1))


async def test_a_full_mailbox_refuses_asks_but_never_tells():
    actor = Counter(mailbox_size=2)
    actor.tell(Add(1))
    waiting = [asyncio.ensure_future(actor.ask(Total())) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(MailboxFullError):
        await actor.ask(Total())
    actor.tell(Add(1))  # a tell carries work already accepted: it is never refused
    actor.start(Supervisor())
    assert await asyncio.gather(*waiting) == [1, 1]
    await settle()
    assert await actor.ask(Total()) == 2
    await actor.stop()


async def test_an_actor_that_falls_behind_refuses_asks_once_ten_thousand_wait():
    # Each waiting ask is a request held open: the bound is what keeps a flood from
    # holding them by the million.
    actor = Counter()
    for _ in range(20_000):
        actor.tell(Add(1))  # tells do not count: a burst of them refuses nobody
    waiting = [asyncio.ensure_future(actor.ask(Total())) for _ in range(10_000)]
    await asyncio.sleep(0)
    with pytest.raises(MailboxFullError):
        await actor.ask(Total())
    actor.start(Supervisor())
    assert set(await asyncio.gather(*waiting)) == {20_000}
    assert await actor.ask(Total()) == 20_000
    await actor.stop()


async def test_an_actor_is_idle_only_with_an_empty_mailbox_while_it_waits(counter):
    actor, _ = counter
    await settle()
    assert actor.idle
    release = asyncio.Event()
    blocked = asyncio.create_task(actor.ask(Block(release)))
    await asyncio.sleep(0)
    assert not actor.idle
    release.set()
    await blocked
    await asyncio.sleep(0)
    assert actor.idle


async def test_stop_lets_queued_tells_finish_within_the_grace_period():
    actor = Counter()
    actor.start(Supervisor())
    for _ in range(100):
        actor.tell(Add(1))
    await actor.stop(grace=1)
    assert actor.total == 100
