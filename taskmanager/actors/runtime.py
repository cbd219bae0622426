"""The actor runtime: a mailbox, tell, ask with a timeout, supervision and stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final

logger = logging.getLogger(__name__)

DEFAULT_ASK_TIMEOUT: Final = 5.0
# Asks waiting past which an actor refuses more (the HTTP layer answers 503). Each
# waiting ask is a request held open with its connection: the bound keeps a flood from
# holding them by the million, yet an actor that keeps up has one per request in flight,
# far fewer. Tells do not count: they carry work already accepted, and a burst of them
# (a drain cancelling every queued task) must not make the actor refuse questions.
DEFAULT_MAILBOX_SIZE: Final = 10_000
# Messages an actor handles back to back before it lets the other tasks run.
FAIR_SHARE: Final = 64


class Request[R]:
    """A message that expects a reply of type ``R``; send it with ``ask``."""

    __slots__ = ()


class ActorStoppedError(RuntimeError):
    """The actor has stopped (or is stopping) and takes no more messages."""


class MailboxFullError(RuntimeError):
    """The actor's mailbox is at its bound and takes no more asks; the caller backs off."""


class UnavailableError(RuntimeError):
    """What an actor keeps its state in (Redis) cannot be reached now; retry shortly."""


class ActorKilledError(RuntimeError):
    """Raised inside an actor that received ``Kill``, so that its supervisor restarts it."""


@dataclass(frozen=True, slots=True)
class Kill:
    """Make the actor crash as if a handler had failed; its supervisor restarts it."""


@dataclass(frozen=True, slots=True)
class Later:
    """A reply that is not ready yet: the actor goes on with its next message meanwhile.

    For an actor whose state lives elsewhere (Redis), handling a message is mostly
    waiting for the other side; returning ``Later(coroutine)`` from ``receive`` lets
    that wait overlap with the next messages, and the caller gets the coroutine's
    outcome as the reply. The coroutine must not touch the actor's own state.
    """

    work: Coroutine[Any, Any, Any]


@dataclass(slots=True)
class _Envelope:
    message: object
    reply: asyncio.Future[Any] | None


_STOP: Final = _Envelope(None, None)


class Actor:
    """One asyncio task that owns its state and handles one message at a time.

    Subclasses implement ``receive``; it is only ever called from the actor's own task,
    so the state it touches needs no lock. An exception raised while handling an
    ``ask`` goes back to the caller as well; either way the actor crashed: its
    supervisor calls ``on_crash``, then resumes it with the next message.
    """

    def __init__(self, name: str, *, mailbox_size: int = DEFAULT_MAILBOX_SIZE) -> None:
        self.name = name
        self._mailbox: asyncio.Queue[_Envelope] = asyncio.Queue()
        self._mailbox_size = mailbox_size
        self._asks_waiting = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._waiting = False
        self._handled = 0
        # Replies still being worked out (see Later), each owned here until it ends.
        self._later: set[asyncio.Task[Any]] = set()

    async def receive(self, message: Any) -> Any:  # noqa: ANN401 - each actor narrows it with match
        """Handle one message; the return value is the reply to an ``ask``."""
        raise NotImplementedError

    async def on_start(self) -> None:
        """Run in the actor's task before the first message."""

    async def on_crash(self, error: Exception) -> None:
        """Run after a crash, before the next message: drop or repair what the crash broke."""

    async def on_stop(self) -> None:
        """Run once the actor's task has ended; stop anything the actor owns."""

    @property
    def alive(self) -> bool:
        """Whether the actor's task is running."""
        return self._task is not None and not self._task.done()

    @property
    def handled(self) -> int:
        """How many messages the actor has taken from its mailbox so far."""
        return self._handled

    @property
    def idle(self) -> bool:
        """Whether the actor waits for a message, with none queued and no reply pending."""
        return self._waiting and not self._mailbox.qsize() and not self._later

    def tell(self, message: object) -> None:
        """Send a message without waiting for it to be handled.

        Tells carry what follows from work already accepted (a task to queue, an event to
        publish, a job that ended), so a full mailbox never refuses them; the bound is
        for asks, through which new work comes in.
        """
        if self._closed:
            raise ActorStoppedError(f"actor {self.name} is stopped")
        self._mailbox.put_nowait(_Envelope(message, None))

    async def ask[R](self, message: Request[R], timeout: float = DEFAULT_ASK_TIMEOUT) -> R:
        """Send a message and wait up to ``timeout`` seconds for its reply."""
        if self._closed:
            raise ActorStoppedError(f"actor {self.name} is stopped")
        if self._asks_waiting >= self._mailbox_size:
            raise MailboxFullError(f"actor {self.name} has {self._mailbox_size} asks waiting")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[R] = loop.create_future()
        self._mailbox.put_nowait(_Envelope(message, reply))
        self._asks_waiting += 1
        # A timer that fails the future costs less than an asyncio.timeout() scope.
        expiry = loop.call_later(timeout, _expire, reply, self.name)
        try:
            return await reply
        finally:
            expiry.cancel()

    def start(self, supervisor: Supervisor) -> None:
        """Start the actor's task; ``supervisor`` restarts it after a crash."""
        if self._task is not None:
            raise RuntimeError(f"actor {self.name} was already started")
        self._task = asyncio.create_task(supervisor.supervise(self), name=f"actor:{self.name}")

    async def stop(self, grace: float = 1.0) -> None:
        """Handle what is queued for up to ``grace`` seconds, then cancel; fail leftover asks."""
        if self._task is None or self._closed:
            return
        self._closed = True
        self._mailbox.put_nowait(_STOP)
        _, pending = await asyncio.wait({self._task}, timeout=grace)
        if pending:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=grace)
        while not self._mailbox.empty():
            reply = self._mailbox.get_nowait().reply
            if reply is not None and not reply.done():
                reply.set_exception(ActorStoppedError(f"actor {self.name} stopped"))
        self._asks_waiting = 0
        if self._later:
            _, unfinished = await asyncio.wait(set(self._later), timeout=grace)
            for work in unfinished:
                work.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
        await self.on_stop()

    async def serve(self) -> None:
        """Handle messages until stopped; a handler's exception ends the call (a crash)."""
        mailbox = self._mailbox
        while True:
            self._handled += 1
            if self._handled % FAIR_SHARE == 0:
                await asyncio.sleep(0)  # a long backlog must not keep the loop to itself
            # Under load the mailbox is rarely empty: take the next message without awaiting.
            if mailbox.qsize():
                envelope = mailbox.get_nowait()
            else:
                self._waiting = True
                envelope = await mailbox.get()
                self._waiting = False
            if envelope is _STOP:
                return
            reply = envelope.reply
            if reply is not None:
                self._asks_waiting -= 1
                if reply.done():
                    continue  # the caller gave up waiting
            try:
                if isinstance(envelope.message, Kill):
                    raise ActorKilledError(f"actor {self.name} was killed")  # noqa: TRY301
                result = await self.receive(envelope.message)
            except Exception as error:
                if reply is not None and not reply.done():
                    reply.set_exception(error)
                raise
            except asyncio.CancelledError:
                if reply is not None and not reply.done():
                    reply.set_exception(ActorStoppedError(f"actor {self.name} stopped"))
                raise
            if isinstance(result, Later):
                self._start_later(result.work, reply)
            elif reply is not None and not reply.done():
                reply.set_result(result)

    def _start_later(
        self, work: Coroutine[Any, Any, Any], reply: asyncio.Future[Any] | None
    ) -> None:
        task = asyncio.create_task(work, name=f"{self.name}:later")
        self._later.add(task)
        task.add_done_callback(lambda done: self._end_later(done, reply))

    def _end_later(self, done: asyncio.Task[Any], reply: asyncio.Future[Any] | None) -> None:
        self._later.discard(done)
        if done.cancelled():
            if reply is not None and not reply.done():
                reply.set_exception(ActorStoppedError(f"actor {self.name} stopped"))
            return
        error = done.exception()
        if reply is None:
            if error is not None:
                logger.warning("actor %s: a told message failed: %r", self.name, error)
        elif not reply.done():
            if error is not None:
                reply.set_exception(error)
            else:
                reply.set_result(done.result())


def _expire(reply: asyncio.Future[Any], name: str) -> None:
    if not reply.done():
        reply.set_exception(TimeoutError(f"actor {name} did not answer in time"))


class Supervisor:
    """Runs actors and resumes each one after a crash; too many crashes mean unhealthy.

    A crashed actor keeps its mailbox and its state: ``on_crash`` repairs what the failed
    message broke, then the actor goes on with the next message. More than
    ``max_crashes`` within ``period`` seconds makes the system report itself unhealthy.
    """

    def __init__(self, max_crashes: int = 5, period: float = 60.0) -> None:
        self._max_crashes = max_crashes
        self._period = period
        self._crashes: deque[float] = deque()
        self.crash_count = 0

    async def supervise(self, actor: Actor) -> None:
        """Run ``actor`` until it stops, resuming it after every crash."""
        await actor.on_start()
        while True:
            try:
                await actor.serve()
            except Exception as error:  # noqa: BLE001 - a supervisor catches every crash
                self._record(actor, error)
                try:
                    await actor.on_crash(error)
                except Exception as again:  # noqa: BLE001 - same reason
                    self._record(actor, again)
            else:
                return

    def _record(self, actor: Actor, error: Exception) -> None:
        logger.error("actor %s crashed; resuming it", actor.name, exc_info=error)
        self.crash_count += 1
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and self._crashes[0] < now - self._period:
            self._crashes.popleft()

    @property
    def healthy(self) -> bool:
        """Whether the actors crashed at most ``max_crashes`` times in the last ``period``."""
        now = time.monotonic()
        recent = sum(1 for moment in self._crashes if moment >= now - self._period)
        return recent <= self._max_crashes
