"""Every message the actors exchange: frozen dataclasses, replies typed through ``Request``.

These messages are the seam between the HTTP layer and the state: a store, a queue or a
limiter kept somewhere else (Redis) answers the same messages. Replies that are futures
or queues are delivered inside the replica that asked, fed by the shared event log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from taskmanager.actors.model import (
    JobOptions,
    Parameters,
    Task,
    TaskError,
    TaskStatus,
    TaskType,
)
from taskmanager.actors.runtime import Request
from taskmanager.jobs import JSONValue

#: Who asks: the name of an API key that sees only its own tasks, or None for everything.
type Viewer = str | None

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


@dataclass(frozen=True, slots=True)
class UnknownDependency:
    """A task named in ``depends_on`` is unknown, cleaned up, or not the submitter's to see."""

    task_id: UUID


type SubmitOutcome = Task | Replayed | KeyReused | StoreFull | ShuttingDown | UnknownDependency


@dataclass(frozen=True, slots=True)
class SubmitTask(Request[SubmitOutcome]):
    """Create a queued task and hand it to the dispatcher, all in one step.

    With an ``idempotency_key`` that ``owner`` already used for the same submission
    (type, parameters and options), reply with that task; used for another, ``KeyReused``.
    """

    task_type: TaskType
    parameters: Parameters
    options: JobOptions
    idempotency_key: str | None = None
    owner: str | None = None
    #: The schedule whose due time this task is, if one made it.
    schedule: str | None = None
    #: Tasks that must complete first; each one ``viewer`` may see. Each is kept once, in
    #: the order named, so that no store has to.
    depends_on: tuple[UUID, ...] = ()
    viewer: Viewer = None

    def __post_init__(self) -> None:
        if self.depends_on:
            object.__setattr__(self, "depends_on", tuple(dict.fromkeys(self.depends_on)))


@dataclass(frozen=True, slots=True)
class GetTask(Request[Task | None]):
    """The task as it is now, or None when unknown, cleaned up, or not the viewer's."""

    task_id: UUID
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class GetResults(Request[dict[UUID, JSONValue]]):
    """The results of those of these tasks that completed and are still kept."""

    task_ids: tuple[UUID, ...]


type Order = Literal["oldest", "newest"]


@dataclass(frozen=True, slots=True)
class TaskPage:
    """Tasks in the order asked for; ``next_after`` continues after them (None: no more)."""

    tasks: tuple[Task, ...]
    next_after: int | None


@dataclass(frozen=True, slots=True)
class ListTasks(Request[TaskPage]):
    """Up to ``limit`` tasks that match, in submission order or its reverse.

    ``after`` is the position where an earlier page ended: the page goes on from there,
    so a walk through the pages sees every task that stays, once, however many come and go.
    """

    limit: int
    status: TaskStatus | None = None
    task_type: TaskType | None = None
    order: Order = "oldest"
    after: int | None = None
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class CancelTask(Request[Task | None]):
    """Cancel a queued or processing task; reply with the task as it ends up (None: unknown)."""

    task_id: UUID
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class WatchTask(Request[asyncio.Future[Task | None]]):
    """Reply with a future that resolves once the task's status is no longer ``seen``.

    It resolves at once when the status already differs, and with None when the task is
    unknown or removed. Cancelling the future withdraws the watch.
    """

    task_id: UUID
    seen: TaskStatus
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class StartTask(Request[Task | None]):
    """A worker starts an attempt under ``lease``: the started task, or None if it must not run."""

    task_id: UUID
    lease: str


@dataclass(frozen=True, slots=True)
class ReportProgress:
    """A running attempt's progress, 0.0 to 1.0."""

    task_id: UUID
    lease: str
    progress: float


@dataclass(frozen=True, slots=True)
class FinishTask:
    """An attempt ended: with ``result`` when ``error`` is None, else failed (or retried).

    Only the attempt holding ``lease`` may finish the task: a late report from an
    earlier attempt changes nothing.
    """

    task_id: UUID
    lease: str
    result: JSONValue = None
    error: TaskError | None = None
    #: The job declared this error worth another attempt (its class is in ``retry_on``);
    #: ``timeout``, ``crash`` and ``worker_lost`` are retried whatever the job says.
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The store's figures.

    Tasks kept per status, tasks finished since start per terminal status, retries and
    timed-out attempts since start, clients waiting on a change, and completions in each
    of the last minutes, oldest first.
    """

    counts: dict[TaskStatus, int]
    finished_total: dict[TaskStatus, int]
    retries_total: int
    timeouts_total: int
    waiters: int
    completed_per_minute: tuple[tuple[datetime, int], ...]
    #: (workers, busy) of the whole service when the store knows every replica's.
    workers: tuple[int, int] | None = None
    #: Whether the queue is paused: no attempt starts until it resumes.
    paused: bool = False


@dataclass(frozen=True, slots=True)
class GetStoreStatus(Request[StoreStatus]):
    """Ask the store for its figures (a viewer's own tasks only, when it has a name)."""

    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class CheckHealth(Request[bool]):
    """Whether the store can reach what it keeps its state in (always, in memory)."""


@dataclass(frozen=True, slots=True)
class PauseQueue(Request[bool]):
    """Pause (``paused``) or resume the queue for the whole service; reply with the new state.

    While paused no attempt starts; running ones go on and submissions are accepted.
    """

    paused: bool


@dataclass(frozen=True, slots=True)
class BeginDrain(Request[tuple[Task, ...]]):
    """Shutting down: refuse new tasks, cancel the queued ones (the reply), answer waiters."""


@dataclass(frozen=True, slots=True)
class StopUnfinished(Request[tuple[Task, ...]]):
    """The shutdown grace is over: nothing more runs here; reply with what was stopped.

    In this process's memory the unfinished tasks are cancelled (nobody else could run
    them); with Redis they go back to the queue for another replica, not cancelled.
    """


@dataclass(frozen=True, slots=True)
class SweepExpired:
    """Remove finished tasks older than the result TTL."""


# --- dispatcher ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A queued task waits for an idle worker from its ``run_at`` on.

    ``seq`` is its place in submission order, which breaks ties between equal priorities.
    """

    task: Task
    seq: int


@dataclass(frozen=True, slots=True)
class WorkerIdle:
    """Worker ``worker`` is free for the next task."""

    worker: int


@dataclass(frozen=True, slots=True)
class HandBack:
    """A worker could not start the task it was given: queue it again, at its place.

    ``lease`` is the one it tried to start under, or the one the queue started it under:
    if the start did happen (its answer was lost, or the queue started it), the queue
    undoes it.
    """

    task: Task
    seq: int
    lease: str | None = None


@dataclass(frozen=True, slots=True)
class Withdraw:
    """A task was cancelled: drop it from the queue, or stop the worker running it."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class WithdrawAll:
    """Stop every job running here: the tasks were given to other replicas."""


@dataclass(frozen=True, slots=True)
class WorkAvailable:
    """A shared queue may have tasks ready (one was submitted or is due for a retry)."""


@dataclass(frozen=True, slots=True)
class HoldDispatch:
    """The queue was paused (``paused``) or resumed: hand out no task until it resumes."""

    paused: bool


@dataclass(frozen=True, slots=True)
class DispatcherStatus:
    """The dispatcher's figures: tasks waiting, workers busy, workers in all."""

    queued: int
    busy: int
    workers: int


@dataclass(frozen=True, slots=True)
class GetDispatcherStatus(Request[DispatcherStatus]):
    """Ask the dispatcher for its figures."""


@dataclass(frozen=True, slots=True)
class GetRunning(Request[frozenset[UUID]]):
    """The tasks handed to this dispatcher's workers and not yet reported idle."""


@dataclass(frozen=True, slots=True)
class StopDispatching(Request[None]):
    """Shutting down: hand out no more tasks."""


@dataclass(frozen=True, slots=True)
class WhenIdle(Request[asyncio.Future[None]]):
    """A future that resolves once no worker is busy."""


# --- worker -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunTask:
    """Run this task now (``seq``: its place in the queue, should it have to go back).

    ``lease``: the queue started the attempt already, under this lease (Redis claims and
    starts in one step); None: the worker starts it.
    """

    task: Task
    seq: int
    lease: str | None = None


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
class StoreUnavailable:
    """The store could not take a submission now (Redis out of memory): retry shortly."""


@dataclass(frozen=True, slots=True)
class Counted:
    """A submission counted against its client's rate limit in the step that made it.

    ``outcome`` is None when the limit refused it: nothing was made, nothing counted.
    """

    decision: RateDecision
    outcome: SubmitOutcome | StoreUnavailable | None


@dataclass(frozen=True, slots=True)
class SubmitCounted(Request[Counted | ShuttingDown]):
    """``submit``, counted against ``client``'s rate limit in the same step.

    Only a store that can count in that step takes it (on Redis, one script does both).
    ``ShuttingDown`` means it was neither made nor counted: the rate limiter counts it.
    """

    submit: SubmitTask
    client: str


@dataclass(frozen=True, slots=True)
class PruneIdle:
    """Forget clients with no request inside the window."""
