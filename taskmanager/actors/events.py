"""The event hub: numbers every task change, keeps a bounded replay buffer, feeds subscribers."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple
from uuid import UUID

from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.runtime import Actor, Request

type EventKind = Literal[
    "submitted", "started", "progress", "completed", "failed", "cancelled", "removed"
]

REPLAY_BUFFER: Final = 10_000
SUBSCRIBER_BUFFER: Final = 1_000


@dataclass(frozen=True, slots=True)
class TaskChanged:
    """A task changed (or was removed: ``task`` is None); told by the store to the hub."""

    kind: EventKind
    task_id: UUID
    task: Task | None


@dataclass(frozen=True, slots=True)
class Event:
    """A numbered change, as every subscriber sees it."""

    id: int
    kind: EventKind
    task_id: UUID
    status: TaskStatus | None
    progress: float | None
    task: Task | None


class _Change(NamedTuple):
    """A numbered change as the replay buffer keeps it (a tuple: cheap to make)."""

    id: int
    kind: EventKind
    task_id: UUID
    task: Task | None

    def event(self) -> Event:
        task = self.task
        return Event(
            id=self.id,
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
    queue: asyncio.Queue[Delivery] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_BUFFER + 2)
    )


@dataclass(frozen=True, slots=True)
class Subscribe(Request[Subscription]):
    """Open a feed; replay what came after ``last_event_id`` (or ask for a resync)."""

    task_id: UUID | None = None
    last_event_id: int | None = None


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
    """Fans task changes out to subscribers; a slow one is told to resync, never waited for."""

    def __init__(self, *, replay_buffer: int = REPLAY_BUFFER) -> None:
        super().__init__("events")
        self._ids = itertools.count(1)
        self._last_id = 0
        self._buffer: deque[_Change] = deque(maxlen=replay_buffer)
        self._subscriptions: dict[int, Subscription] = {}
        self._subscription_ids = itertools.count(1)
        self._streams_closed = False

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one hub message."""
        match message:
            case TaskChanged(kind=kind, task_id=task_id, task=task):
                self._publish(kind, task_id, task)
            case Subscribe(task_id=task_id, last_event_id=last_event_id):
                return self._subscribe(task_id, last_event_id)
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

    def _publish(self, kind: EventKind, task_id: UUID, task: Task | None) -> None:
        self._last_id = next(self._ids)
        # Events are built only for subscribers: most changes happen with nobody watching.
        change = _Change(self._last_id, kind, task_id, task)
        self._buffer.append(change)
        event: Event | None = None
        for subscription in self._subscriptions.values():
            if subscription.task_id is None or subscription.task_id == task_id:
                event = event or change.event()
                _deliver(subscription, event)

    def _subscribe(self, task_id: UUID | None, last_event_id: int | None) -> Subscription:
        subscription = Subscription(next(self._subscription_ids), task_id)
        if self._streams_closed:
            _offer(subscription, None)
            return subscription
        if last_event_id is not None and last_event_id != self._last_id:
            oldest = self._buffer[0].id if self._buffer else self._last_id + 1
            if last_event_id > self._last_id or last_event_id < oldest - 1:
                _deliver(subscription, Resync())  # from before a restart, or too far behind
            else:
                for change in self._buffer:
                    if change.id > last_event_id and task_id in (None, change.task_id):
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
