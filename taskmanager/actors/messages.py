"""Every message the actors exchange: frozen dataclasses, replies typed through ``Request``.

Nothing here assumes one process: ids, records and plain values only, so a store or a
dispatcher backed by a shared database could answer the same messages.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from taskmanager.actors.model import JSONValue, Parameters, Task, TaskError, TaskStatus, TaskType
from taskmanager.actors.runtime import Request

# --- task store ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreFull:
    """The store holds its maximum number of tasks; retry after ``retry_after`` seconds."""

    retry_after: float


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    """The service is shutting down and takes no new tasks."""


@dataclass(frozen=True, slots=True)
class Replayed:
    """The idempotency key was seen with the same request: this is the original task."""

    task: Task


@dataclass(frozen=True, slots=True)
class KeyReused:
    """The idempotency key was seen with a different request."""

    task_id: UUID


type SubmitOutcome = Task | Replayed | KeyReused | StoreFull | ShuttingDown


@dataclass(frozen=True, slots=True)
class SubmitTask(Request[SubmitOutcome]):
    """Create a queued task and hand it to the dispatcher.

    With an ``idempotency_key`` already used for the same task type and parameters, reply
    with that task instead; used for other ones, reply ``KeyReused``.
    """

    task_type: TaskType
    parameters: Parameters
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class GetTask(Request[Task | None]):
    """The task as it is now, or None when unknown or cleaned up."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class ListTasks(Request[tuple[Task, ...]]):
    """A snapshot of the tasks, oldest first, optionally of one status and at most ``limit``."""

    status: TaskStatus | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class CancelTask(Request[Task | None]):
    """Cancel a queued or processing task; reply with the task as it ends up (None: unknown)."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class WatchTask(Request[asyncio.Future[Task | None]]):
    """Reply with a future that resolves once the task's status is no longer ``seen``.

    It resolves at once when the status already differs, and with None when the task is
    unknown or removed. Cancelling the future withdraws the watch.
    """

    task_id: UUID
    seen: TaskStatus


@dataclass(frozen=True, slots=True)
class StartTask(Request[Task | None]):
    """A worker is about to run the task: mark it processing, or None when it must not run."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class ReportProgress:
    """A running task's progress, 0.0 to 1.0."""

    task_id: UUID
    progress: float


@dataclass(frozen=True, slots=True)
class FinishTask:
    """A task ended: with ``result`` when ``error`` is None, else failed."""

    task_id: UUID
    result: JSONValue = None
    error: TaskError | None = None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The store's figures.

    Tasks kept per status, tasks finished since start per terminal status, clients
    waiting on a change, and completions in each of the last minutes, oldest first.
    """

    counts: dict[TaskStatus, int]
    finished_total: dict[TaskStatus, int]
    waiters: int
    completed_per_minute: tuple[tuple[datetime, int], ...]


@dataclass(frozen=True, slots=True)
class GetStoreStatus(Request[StoreStatus]):
    """Ask the store for its figures."""


@dataclass(frozen=True, slots=True)
class BeginDrain(Request[tuple[Task, ...]]):
    """Shutting down: refuse new tasks, cancel the queued ones (the reply), answer waiters."""


@dataclass(frozen=True, slots=True)
class WhenIdle(Request[asyncio.Future[None]]):
    """A future that resolves once no task is processing."""


@dataclass(frozen=True, slots=True)
class CancelUnfinished(Request[tuple[Task, ...]]):
    """Cancel every task that has not finished; reply with them."""


@dataclass(frozen=True, slots=True)
class SweepExpired:
    """Remove finished tasks older than the result TTL."""


# --- dispatcher ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A new queued task waits for an idle worker."""

    task: Task


@dataclass(frozen=True, slots=True)
class WorkerIdle:
    """Worker ``worker`` is free for the next task."""

    worker: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """A task was cancelled: drop it from the queue, or stop the worker running it."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class DispatcherStatus:
    """The dispatcher's figures: tasks waiting, workers busy, workers in all."""

    queued: int
    busy: int
    workers: int


@dataclass(frozen=True, slots=True)
class GetDispatcherStatus(Request[DispatcherStatus]):
    """Ask the dispatcher for its figures."""


# --- worker -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunTask:
    """Run this task now."""

    task: Task


@dataclass(frozen=True, slots=True)
class CancelJob:
    """Cancel the job of this task if it is the one running."""

    task_id: UUID


# --- rate limiter -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request may go on, with the figures for the RateLimit headers."""

    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int
    retry_after: int


@dataclass(frozen=True, slots=True)
class CheckRate(Request[RateDecision]):
    """Count a request from ``client`` if it is within the limit: check and record in one step."""

    client: str


@dataclass(frozen=True, slots=True)
class PruneIdle:
    """Forget clients with no request inside the window."""
