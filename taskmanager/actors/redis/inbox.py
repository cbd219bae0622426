"""What reaches one replica from the others: only what concerns it, never the whole log.

Two readers, each blocked on a key of its own on a connection of its own:

- the inbox (a list per replica, ``<prefix>:inbox:<replica>``): the scripts put there a
  cancel for a job this replica runs (the task's lease names the replica) and a wake-up
  for a task its long-polls wait for (the watch script put the replica's name in the
  record). As Sidekiq's processes read their own signals list, nothing is broadcast.
- the doorbell (``<prefix>:marker``, a one-member sorted set): a task that becomes
  ready rings it; a replica with an idle worker and nothing to claim blocks on it, as
  BullMQ's workers do, so one wakes per ring instead of every replica reading every
  submission.

Both are hints: the scripts check every change, the heartbeat finds an ended task still
running here, and an idle dispatcher looks at the queue once a second anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final
from uuid import UUID

from redis.asyncio import Redis

from taskmanager.actors.messages import Withdraw, WorkAvailable
from taskmanager.actors.redis.connection import READ_BLOCK_MS, is_unreachable, reachable
from taskmanager.actors.redis.store import Arm, Disarm, IsArmed, Missed, Woken
from taskmanager.actors.runtime import Actor, ActorStoppedError

logger = logging.getLogger(__name__)

#: Messages taken from the inbox per call.
INBOX_BATCH: Final = 500
RECONNECT_SECONDS: Final = 0.25
_BLOCK_SECONDS: Final = READ_BLOCK_MS / 1000


def _tell(actor: Actor | None, message: object) -> None:
    if actor is not None:
        with contextlib.suppress(ActorStoppedError):
            actor.tell(message)


class Inbox(Actor):
    """Reads this replica's inbox: stops the jobs cancelled elsewhere, wakes long-polls."""

    def __init__(self, redis: Redis, prefix: str, replica: str) -> None:
        super().__init__("inbox")
        self._redis = redis
        self._key = f"{prefix}:inbox:{replica}"
        self._store: Actor | None = None
        self._dispatcher: Actor | None = None
        self._reading: asyncio.Task[None] | None = None

    def attach(self, *, store: Actor, dispatcher: Actor) -> None:
        """Whom to tell; call before the inbox starts."""
        self._store, self._dispatcher = store, dispatcher

    async def on_start(self) -> None:
        """Start reading."""
        self._reading = asyncio.create_task(self._read_forever(), name="inbox:read")

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """The inbox takes no messages: it only reads."""
        raise TypeError(f"inbox got an unknown message {message!r}")

    async def on_stop(self) -> None:
        """Stop reading."""
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.wait({self._reading})

    async def _read_forever(self) -> None:
        connected = True
        while True:
            try:
                with reachable():
                    answer: Any = await self._redis.execute_command(  # type: ignore[no-untyped-call]
                        "BLMPOP", _BLOCK_SECONDS, 1, self._key, "LEFT", "COUNT", INBOX_BATCH
                    )
                if not connected:
                    # Whatever was told while this replica could not read may be gone
                    # with a Redis that restarted: whoever waits looks again.
                    connected = True
                    _tell(self._store, Missed())
                if answer:
                    self._deliver(answer[1])
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_unreachable(error):
                    logger.exception("the inbox reader failed; it starts again")
                elif connected:
                    logger.warning("the inbox reader lost Redis; it reconnects: %s", error)
                connected = False
                await asyncio.sleep(RECONNECT_SECONDS)

    def _deliver(self, messages: list[str]) -> None:
        woken = []
        for message in messages:
            kind, _, task_id = message.partition(":")
            if kind == "c":
                _tell(self._dispatcher, Withdraw(UUID(task_id)))
            elif kind == "w":
                woken.append(UUID(task_id))
        if woken:
            _tell(self._store, Woken(tuple(woken)))


class Doorbell(Actor):
    """Blocks on the ready-work marker while armed; tells the dispatcher when it rings."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        super().__init__("doorbell")
        self._redis = redis
        self._key = f"{prefix}:marker"
        self._dispatcher: Actor | None = None
        self._armed = asyncio.Event()
        self._armed.set()  # every worker is idle at first, and nothing was claimed yet
        self._ringing: asyncio.Task[None] | None = None

    def attach(self, *, dispatcher: Actor) -> None:
        """Whom to tell; call before the doorbell starts."""
        self._dispatcher = dispatcher

    async def on_start(self) -> None:
        """Look at the queue once (tasks may wait already), and wait for rings."""
        _tell(self._dispatcher, WorkAvailable())
        self._ringing = asyncio.create_task(self._wait_forever(), name="doorbell:wait")

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Arm, disarm, or say which."""
        match message:
            case Arm():
                self._armed.set()
            case Disarm():
                self._armed.clear()
            case IsArmed():
                return self._armed.is_set()
            case _:
                raise TypeError(f"doorbell got an unknown message {message!r}")
        return None

    async def on_stop(self) -> None:
        """Stop waiting."""
        if self._ringing is not None:
            self._ringing.cancel()
            await asyncio.wait({self._ringing})

    async def _wait_forever(self) -> None:
        while True:
            await self._armed.wait()
            try:
                with reachable():
                    rung: Any = await self._redis.bzpopmin(self._key, _BLOCK_SECONDS)
                if not rung:
                    continue
                if self._armed.is_set():
                    self._armed.clear()  # armed again once the claim finds nothing
                    _tell(self._dispatcher, WorkAvailable())
                else:
                    # Taken while this replica stopped needing it: ring for the others.
                    with reachable():
                        await self._redis.zadd(self._key, {"0": 0})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_unreachable(error):
                    logger.exception("the doorbell failed; it starts again")
                await asyncio.sleep(RECONNECT_SECONDS)
