"""The event hub: fans task changes out to subscribers, and replays what they missed.

Where the changes are kept is the event log's business: in this process (``MemoryLog``,
fed by the store) or in Redis (a stream, read by a replica while it has subscribers).
Either way an event id is ``<epoch>-<position>``: the epoch names one log, so an id from
another log, or from before the log was lost, is recognised as such and answered with a
resync.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple, Protocol
from uuid import UUID

from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.runtime import Actor, Request

type EventKind = Literal[
    "submitted",
    "started",
    "progress",
    "retrying",
    "completed",
    "failed",
    "cancelled",
    "removed",
]

logger = logging.getLogger(__name__)

REPLAY_BUFFER: Final = 10_000
SUBSCRIBER_BUFFER: Final = 1_000
# Positions longer than this cannot be this log's: it would take centuries to count that far.
MAX_DIGITS: Final = 18


@dataclass(frozen=True, slots=True)
class TaskChanged:
    """A task changed (or was removed: ``task`` is None); told by the store to the hub."""

    kind: EventKind
    task_id: UUID
    task: Task | None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A change as every subscriber sees it, with the id to resume after it."""

    id: str
    kind: EventKind
    task_id: UUID
    status: TaskStatus | None
    progress: float | None
    task: Task | None


class Change(NamedTuple):
    """A change as a log keeps it (a tuple: cheap to make)."""

    id: str
    kind: EventKind
    task_id: UUID
    known: Task | None  # the task after the change, when the log has it at hand
    owner: str | None
    # Or how to build it, when the log has only the fields it read: most changes are
    # never looked at closely (nobody subscribes or waits), so they are not built.
    build: Callable[[], Task] | None = None

    @property
    def task(self) -> Task | None:
        """The task after the change (None: the log does not know it)."""
        return self.known if self.build is None else self.build()

    def event(self) -> Event:
        """The change as subscribers see it."""
        task = self.task
        return Event(
            id=self.id,
            kind=self.kind,
            task_id=self.task_id,
            status=task.status if task else None,
            progress=task.progress if task else None,
            task=task,
        )


class EventLog(Protocol):
    """Where changes are kept, so a subscriber can resume where it left off."""

    @property
    def epoch(self) -> str:
        """The log's name: new whenever the log starts over."""
        ...

    async def since(self, last_event_id: str, up_to: str | None) -> list[Change] | None:
        """The changes after ``last_event_id`` up to ``up_to``, or None if not exactly known."""
        ...

    async def follow(self, generation: int) -> str | None:
        """The newest change's id; the changes after it are published from now on.

        A shared log is read only while someone subscribes: what it publishes is tagged
        with ``generation``, so that what was read for an earlier follower is told apart.
        """
        ...

    def unfollow(self) -> None:
        """Nobody subscribes any more: stop reading a shared log."""
        ...


class MemoryLog:
    """The most recent changes, kept in this process; a new run is a new epoch."""

    def __init__(self, size: int = REPLAY_BUFFER) -> None:
        self._epoch = secrets.token_hex(4)
        self._last = 0
        self._buffer: deque[Change] = deque(maxlen=size)  # numbered up to _last, no gaps

    @property
    def epoch(self) -> str:
        """This run's name."""
        return self._epoch

    def append(
        self, kind: EventKind, task_id: UUID, task: Task | None, owner: str | None
    ) -> Change:
        """Number a change and keep it."""
        self._last += 1
        change = Change(f"{self._epoch}-{self._last}", kind, task_id, task, owner)
        self._buffer.append(change)
        return change

    async def follow(self, generation: int) -> str | None:  # noqa: ARG002 - always published
        """The newest change's id: the store tells the hub every change anyway."""
        return f"{self._epoch}-{self._last}" if self._last else None

    def unfollow(self) -> None:
        """Nothing to stop: the store tells the hub every change anyway."""

    async def since(self, last_event_id: str, up_to: str | None) -> list[Change] | None:  # noqa: ARG002 - everything here is published
        """The changes after ``last_event_id``, or None when the buffer cannot tell exactly."""
        epoch, _, position_text = last_event_id.partition("-")
        digits = position_text.isascii() and position_text.isdigit()
        if epoch != self._epoch or not digits or len(position_text) > MAX_DIGITS:
            return None  # malformed, another log, or an earlier run of this one
        position = int(position_text)
        newer = self._last - position
        if newer < 0 or newer > len(self._buffer):
            return None  # from the future, or older than what is kept
        return list(itertools.islice(self._buffer, len(self._buffer) - newer, None))


@dataclass(frozen=True, slots=True)
class Published:
    """Changes read from a shared log, in its order, with their ids; for the hub to fan out.

    ``generation`` is the follow they were read for (see ``EventLog.follow``).
    """

    changes: tuple[Change, ...]
    generation: int = 0


@dataclass(frozen=True, slots=True)
class LogStarted:
    """The shared log is read from ``last_id`` on (None: it is empty).

    Told when the log turns out to have started over (its store lost it, so it has a new
    epoch) or to have dropped events its reader never read: every open feed resyncs.
    """

    last_id: str | None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Resync:
    """The subscriber missed events; it must reload its snapshot."""


type Delivery = Event | Resync | None  # None: the hub is closing the stream


@dataclass(eq=False)
class Subscription:
    """One client's feed: a bounded queue the hub fills and the client drains."""

    id: int
    task_id: UUID | None
    viewer: str | None = None
    queue: asyncio.Queue[Delivery] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_BUFFER + 2)
    )

    def wants(self, task_id: UUID, owner: str | None) -> bool:
        """Whether a change of this task belongs in this feed."""
        return (self.task_id is None or self.task_id == task_id) and (
            self.viewer is None or self.viewer == owner
        )


@dataclass(frozen=True, slots=True)
class Subscribe(Request[Subscription]):
    """Open a feed; replay what came after ``last_event_id``, or start with a resync.

    An id the log cannot continue exactly (malformed, from another log or an earlier
    run, or older than what is kept) gets one ``Resync`` first, never a guess.
    """

    task_id: UUID | None = None
    last_event_id: str | None = None
    viewer: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Close a feed: the client went away."""

    subscription_id: int


@dataclass(frozen=True, slots=True)
class CloseStreams:
    """Shutting down: end every open feed so each client gets a complete answer."""


@dataclass(frozen=True, slots=True)
class GetSubscriberCount(Request[int]):
    """How many feeds are open."""


class EventHub(Actor):
    """Fans changes out to subscribers; a slow one is told to resync, never waited for.

    With a ``MemoryLog`` the store tells the hub each change; with a shared log a reader
    tells it what it read (``Published``).
    """

    def __init__(self, log: EventLog | None = None) -> None:
        super().__init__("events")
        self._log: EventLog = log or MemoryLog()
        # The newest change fanned out: a replay goes up to here, live events go on after.
        self._last: str | None = None
        self._subscriptions: dict[int, Subscription] = {}
        self._subscription_ids = itertools.count(1)
        self._streams_closed = False
        # A shared log is read only while someone subscribes; each follow has a number.
        self._following = False
        self._generation = 0

    @property
    def epoch(self) -> str:
        """The name of the log this hub's event ids belong to."""
        return self._log.epoch

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one hub message."""
        match message:
            case TaskChanged(kind=kind, task_id=task_id, task=task, owner=owner):
                assert isinstance(self._log, MemoryLog)  # noqa: S101 - only it is told changes
                self._publish(self._log.append(kind, task_id, task, owner))
            case Published(changes=changes, generation=generation):
                if generation == self._generation:  # else read for an earlier follow
                    for change in changes:
                        self._publish(change)
            case LogStarted(last_id=last_id, generation=generation):
                if generation != self._generation:
                    return None
                if self._last is not None:
                    for subscription in self._subscriptions.values():
                        _deliver(subscription, Resync())
                self._last = last_id
            case Subscribe(task_id=task_id, last_event_id=last_event_id, viewer=viewer):
                return await self._subscribe(task_id, last_event_id, viewer)
            case Unsubscribe(subscription_id=subscription_id):
                self._subscriptions.pop(subscription_id, None)
                self._unfollow_if_unwatched()
            case CloseStreams():
                self._streams_closed = True
                for subscription in self._subscriptions.values():
                    _offer(subscription, None)
                self._subscriptions.clear()
                self._unfollow_if_unwatched()
            case GetSubscriberCount():
                return len(self._subscriptions)
            case _:
                raise TypeError(f"event hub got an unknown message {message!r}")
        return None

    def _unfollow_if_unwatched(self) -> None:
        if self._following and not self._subscriptions:
            self._following = False
            self._log.unfollow()

    def _publish(self, change: Change) -> None:
        self._last = change.id
        # Events are built only for subscribers: most changes happen with nobody watching.
        event: Event | None = None
        for subscription in self._subscriptions.values():
            if subscription.wants(change.task_id, change.owner):
                event = event or change.event()
                _deliver(subscription, event)

    async def _subscribe(
        self, task_id: UUID | None, last_event_id: str | None, viewer: str | None
    ) -> Subscription:
        subscription = Subscription(next(self._subscription_ids), task_id, viewer)
        if self._streams_closed:
            _offer(subscription, None)
            return subscription
        if not self._following:
            # From the newest change on, the log publishes here; a replay goes up to it.
            self._generation += 1
            self._last = await self._log.follow(self._generation)
            self._following = True
        if last_event_id is not None and last_event_id != self._last:
            # Read while no other message is handled: nothing is published in between, so
            # the replay and the live events meet with no gap and no repeat.
            try:
                missed = await self._log.since(last_event_id, self._last)
            except Exception as error:  # noqa: BLE001 - the log cannot say: the client resyncs
                logger.warning("replay after %r failed: %r", last_event_id[:80], error)
                missed = None
            if missed is None:
                _deliver(subscription, Resync())
            else:
                for change in missed:
                    if subscription.wants(change.task_id, change.owner):
                        _deliver(subscription, change.event())
        self._subscriptions[subscription.id] = subscription
        return subscription


def _deliver(subscription: Subscription, delivery: Event | Resync) -> None:
    """Queue an event; on overflow drop the backlog and queue one resync instead."""
    queue = subscription.queue
    if queue.qsize() >= SUBSCRIBER_BUFFER:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(Resync())
        return
    queue.put_nowait(delivery)


def _offer(subscription: Subscription, delivery: Delivery) -> None:
    # The queue keeps two spare places, so the closing marker always fits.
    if not subscription.queue.full():
        subscription.queue.put_nowait(delivery)
