"""The event hub: numbers every task change, keeps a bounded replay buffer, feeds subscribers."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple
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

REPLAY_BUFFER: Final = 10_000
# Positions longer than this cannot be this log's: it would take centuries to count that far.
MAX_DIGITS: Final = 18
SUBSCRIBER_BUFFER: Final = 1_000


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


class _Change(NamedTuple):
    """A change as the replay buffer keeps it (a tuple: cheap to make)."""

    position: int
    kind: EventKind
    task_id: UUID
    task: Task | None
    owner: str | None

    def event(self, epoch: str) -> Event:
        task = self.task
        return Event(
            id=f"{epoch}-{self.position}",
            kind=self.kind,
            task_id=self.task_id,
            status=task.status if task else None,
            progress=task.progress if task else None,
            task=task,
        )


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

    An id this log cannot continue exactly (malformed, from another log or an earlier
    run, or older than the replay buffer) gets one ``Resync`` first, never a guess.
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
    """Numbers changes, keeps the recent ones, and fans them out to subscribers.

    Event ids are ``<epoch>-<position>``: the epoch is new for every run of the hub, so
    an id from before a restart is recognised as such. A slow subscriber is told to
    resync, never waited for.
    """

    def __init__(self, *, replay_buffer: int = REPLAY_BUFFER) -> None:
        super().__init__("events")
        self.epoch = secrets.token_hex(4)
        self._last = 0
        self._buffer: deque[_Change] = deque(maxlen=replay_buffer)
        self._subscriptions: dict[int, Subscription] = {}
        self._subscription_ids = itertools.count(1)
        self._streams_closed = False

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one hub message."""
        match message:
            case TaskChanged(kind=kind, task_id=task_id, task=task, owner=owner):
                self._publish(kind, task_id, task, owner)
            case Subscribe(task_id=task_id, last_event_id=last_event_id, viewer=viewer):
                return self._subscribe(task_id, last_event_id, viewer)
            case Unsubscribe(subscription_id=subscription_id):
                self._subscriptions.pop(subscription_id, None)
            case CloseStreams():
                self._streams_closed = True
                for subscription in self._subscriptions.values():
                    _offer(subscription, None)
                self._subscriptions.clear()
            case GetSubscriberCount():
                return len(self._subscriptions)
            case _:
                raise TypeError(f"event hub got an unknown message {message!r}")
        return None

    def _publish(
        self, kind: EventKind, task_id: UUID, task: Task | None, owner: str | None
    ) -> None:
        self._last += 1
        # Events are built only for subscribers: most changes happen with nobody watching.
        change = _Change(self._last, kind, task_id, task, owner)
        self._buffer.append(change)
        event: Event | None = None
        for subscription in self._subscriptions.values():
            if subscription.wants(task_id, owner):
                event = event or change.event(self.epoch)
                _deliver(subscription, event)

    def _subscribe(
        self, task_id: UUID | None, last_event_id: str | None, viewer: str | None
    ) -> Subscription:
        subscription = Subscription(next(self._subscription_ids), task_id, viewer)
        if self._streams_closed:
            _offer(subscription, None)
            return subscription
        if last_event_id is not None:
            missed = self._since(last_event_id)
            if missed is None:
                _deliver(subscription, Resync())
            else:
                for change in missed:
                    if subscription.wants(change.task_id, change.owner):
                        _deliver(subscription, change.event(self.epoch))
        self._subscriptions[subscription.id] = subscription
        return subscription

    def _since(self, last_event_id: str) -> list[_Change] | None:
        """The changes after ``last_event_id``, or None when the buffer cannot tell exactly."""
        epoch, _, position_text = last_event_id.partition("-")
        digits = (
            position_text.isascii() and position_text.isdigit() and len(position_text) <= MAX_DIGITS
        )
        if epoch != self.epoch or not digits:
            return None  # malformed, another log, or an earlier run of this one
        position = int(position_text)
        oldest = self._buffer[0].position if self._buffer else self._last + 1
        if position > self._last or position < oldest - 1:
            return None  # from the future, or older than what is kept
        return [change for change in self._buffer if change.position > position]


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
