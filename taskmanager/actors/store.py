"""The task store: the single writer of task state, and the one that tells who waits."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
import random
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from pydantic_core import to_json

from taskmanager.actors.clock import Clock
from taskmanager.actors.events import EventKind, TaskChanged
from taskmanager.actors.messages import (
    BeginDrain,
    CancelTask,
    CheckHealth,
    Enqueue,
    FinishTask,
    GetResults,
    GetStoreStatus,
    GetTask,
    HoldDispatch,
    KeyReused,
    ListTasks,
    Order,
    PauseQueue,
    Replayed,
    ReportProgress,
    ShuttingDown,
    StartTask,
    StopUnfinished,
    StoreFull,
    StoreStatus,
    SubmitOutcome,
    SubmitTask,
    SweepExpired,
    TaskPage,
    UnknownDependency,
    Viewer,
    WatchTask,
    Withdraw,
)
from taskmanager.actors.model import TERMINAL, Task, TaskError, TaskStatus
from taskmanager.actors.runtime import Actor, ActorStoppedError
from taskmanager.jobs import JSONValue

logger = logging.getLogger(__name__)

type Waiter = asyncio.Future[Task | None]

STATS_MINUTES = 10
#: Backoff before retry n is ``retry_backoff * 2**(n-1)`` seconds, at most this.
MAX_BACKOFF = 60.0
#: Up to this share of the backoff is added at random, so retries do not move in step.
JITTER = 0.1
_KIND: dict[TaskStatus, EventKind] = {
    TaskStatus.COMPLETED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


_UNFINISHED: Final = frozenset({TaskStatus.QUEUED, TaskStatus.PROCESSING})


def _dependency_failed(dependency: Task) -> TaskError:
    """Why a task that waited for ``dependency`` (failed or cancelled) was cancelled."""
    return TaskError("dependency_failed", f"dependency {dependency.task_id} {dependency.status}")


def backoff(base: float, retry: int, rng: random.Random) -> float:
    """Seconds to wait before retry ``retry`` (1, 2, ...): doubling, capped, with jitter."""
    return min(base * 2.0 ** (retry - 1), MAX_BACKOFF) * (1 + JITTER * rng.random())


def _count_completion(per_minute: deque[tuple[int, int]], minute: int) -> None:
    if per_minute and per_minute[-1][0] == minute:
        per_minute[-1] = (minute, per_minute[-1][1] + 1)
    else:
        per_minute.append((minute, 1))


@dataclasses.dataclass(frozen=True, slots=True)
class _DropWaiter:
    task_id: UUID
    waiter: Waiter


class TaskStore(Actor):
    """Owns every task record and the futures of clients waiting for a change.

    A task is its record (``Task``, replaced on every change) plus a few facts only the
    store needs, each in a dict of its own (its place in submission order, its owner,
    the lease of its running attempt, its idempotency key): no extra object per task,
    so that a store of 100,000 tasks costs Python's garbage collector little.
    """

    def __init__(  # noqa: PLR0913 - the store's collaborators and limits, all by name
        self,
        *,
        dispatcher: Actor,
        events: Actor,
        clock: Clock,
        max_tasks: int,
        result_ttl: float,
        retry_backoff: float = 1.0,
        rng: random.Random | None = None,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__("store")
        self._dispatcher = dispatcher
        self._events = events
        self._clock = clock
        self._max_tasks = max_tasks
        self._max_bytes = max_bytes
        self._result_ttl = result_ttl
        self._retry_backoff = retry_backoff
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._tasks: dict[UUID, Task] = {}
        self._seq: dict[UUID, int] = {}
        self._owners: dict[UUID, str] = {}  # tasks submitted with an API key
        self._leases: dict[UUID, str] = {}  # tasks whose attempt runs
        # The bytes of each task's parameters and result as JSON, and their sum: a count
        # of tasks alone lets a few large ones take all the memory there is.
        self._sizes: dict[UUID, int] = {}
        self._bytes = 0
        # Submission order, for pages: positions only grow; removed tasks are skipped,
        # and squeezed out once they are most of the list.
        self._seqs: list[int] = []
        self._ids: list[UUID] = []
        self._next_seq = 1
        self._counts: Counter[tuple[str | None, TaskStatus]] = Counter()
        self._finished_total: Counter[TaskStatus] = Counter()
        self._retries_total = 0
        self._timeouts_total = 0
        # Completions per minute (minute start, in seconds since the epoch), newest last:
        # of every task, and of each API key's own (one entry per key in the keys file).
        self._per_minute: deque[tuple[int, int]] = deque(maxlen=STATS_MINUTES)
        self._owners_per_minute: dict[str, deque[tuple[int, int]]] = {}
        self._waiters: dict[UUID, set[Waiter]] = {}
        # Finished tasks in finishing order (and when, on the monotonic clock), so that
        # expiry pops from the left.
        self._finished_at: deque[float] = deque()
        self._finished_ids: deque[UUID] = deque()
        # Idempotency keys, per owner, with the submission each was used for; they live
        # as long as their task is kept.
        self._keys: dict[tuple[str | None, str], UUID] = {}
        self._keyed: dict[UUID, tuple[tuple[str | None, str], tuple[object, ...]]] = {}
        # The queued tasks that wait for each unfinished task, until it ends.
        self._dependants: dict[UUID, list[UUID]] = {}
        self._draining = False
        self._paused = False

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one store message."""
        match message:
            case GetTask(task_id=task_id, viewer=viewer):
                return self._visible(task_id, viewer)
            case GetResults(task_ids=task_ids):
                return self._results(task_ids)
            case SubmitTask():
                return self._submit(message)
            case ReportProgress(task_id=task_id, lease=lease, progress=progress):
                self._report_progress(task_id, lease, progress)
            case StartTask(task_id=task_id, lease=lease):
                return self._start(task_id, lease)
            case FinishTask(
                task_id=task_id, lease=lease, result=result, error=error, retryable=retryable
            ):
                self._finish(task_id, lease, result, error, retryable=retryable)
            case CancelTask(task_id=task_id, viewer=viewer):
                return self._cancel(task_id, viewer)
            case WatchTask(task_id=task_id, seen=seen, viewer=viewer):
                return self._watch(task_id, seen, viewer)
            case _DropWaiter(task_id=task_id, waiter=waiter):
                waiters = self._waiters.get(task_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[task_id]
            case ListTasks():
                return self._list(message)
            case SweepExpired():
                self._sweep()
            case GetStoreStatus(viewer=viewer):
                return self._status(viewer)
            case CheckHealth():
                return True
            case PauseQueue(paused=paused):
                self._paused = paused
                self._tell(self._dispatcher, HoldDispatch(paused))
                return paused
            case BeginDrain():
                return self._begin_drain()
            case StopUnfinished():
                return self._cancel_all(TaskStatus.QUEUED, TaskStatus.PROCESSING)
            case _:
                raise TypeError(f"store got an unknown message {message!r}")
        return None

    def _visible(self, task_id: UUID, viewer: Viewer) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or (viewer is not None and self._owners.get(task_id) != viewer):
            return None
        return task

    def _tell(self, actor: Actor, message: object) -> None:
        """Tell a collaborator; one that stopped means the service is going down."""
        try:
            actor.tell(message)
        except ActorStoppedError:
            logger.warning("%s is stopped; %s not sent", actor.name, type(message).__name__)

    def _changed(self, kind: EventKind, task: Task) -> None:
        owner = self._owners.get(task.task_id)
        self._tell(self._events, TaskChanged(kind, task.task_id, task, owner))

    # --- submitting -----------------------------------------------------------------------

    def _submit(self, message: SubmitTask) -> SubmitOutcome:
        if self._draining:
            return ShuttingDown()
        owner, options = message.owner, message.options
        key = None if message.idempotency_key is None else (owner, message.idempotency_key)
        depends_on = message.depends_on
        submission = (message.task_type, message.parameters, options, depends_on)
        if key is not None and (earlier := self._keys.get(key)) is not None:
            if self._keyed[earlier][1] == submission:
                return Replayed(self._tasks[earlier])
            return KeyReused(earlier)
        if len(self._tasks) >= self._max_tasks:
            return StoreFull(self._retry_after())
        size = len(message.parameters.json)
        if self._max_bytes is not None and self._bytes + size > self._max_bytes:
            return StoreFull(self._retry_after())
        waiting: tuple[UUID, ...] = ()
        failed = None
        if depends_on:
            found = self._dependencies(depends_on, message.viewer)
            if isinstance(found, UnknownDependency):
                return found
            waiting, failed = found
        now = self._clock.now()
        task = Task(
            task_id=uuid.uuid4(),
            task_type=message.task_type,
            status=TaskStatus.QUEUED,
            parameters=message.parameters,
            created_at=now,
            run_at=now + timedelta(seconds=options.delay) if options.delay else now,
            priority=options.priority,
            timeout=options.timeout,
            max_retries=options.max_retries,
            schedule=message.schedule,
            depends_on=depends_on,
            waiting_for=waiting,
        )
        task_id, seq = task.task_id, self._next_seq
        # The tells come first: only they can fail (a stopped actor), and then nothing
        # has changed here. A queue entry without its record is skipped when it starts.
        if not waiting and failed is None:
            self._dispatcher.tell(Enqueue(task, seq))
        self._events.tell(TaskChanged("submitted", task_id, task, owner))
        self._next_seq += 1
        self._tasks[task_id] = task
        self._seq[task_id] = seq
        self._sizes[task_id] = size
        self._bytes += size
        self._seqs.append(seq)
        self._ids.append(task_id)
        if owner is not None:
            self._owners[task_id] = owner
        if key is not None:
            self._keys[key] = task_id
            self._keyed[task_id] = (key, submission)
        self._counts[owner, TaskStatus.QUEUED] += 1
        if failed is not None:
            return self._end(task, TaskStatus.CANCELLED, error=_dependency_failed(failed))
        for dependency_id in waiting:
            self._dependants.setdefault(dependency_id, []).append(task_id)
        return task

    def _dependencies(
        self, depends_on: tuple[UUID, ...], viewer: Viewer
    ) -> tuple[tuple[UUID, ...], Task | None] | UnknownDependency:
        """Those of ``depends_on`` not finished yet, and the first that failed, if any."""
        waiting: list[UUID] = []
        failed = None
        for task_id in depends_on:
            dependency = self._visible(task_id, viewer)
            if dependency is None:
                return UnknownDependency(task_id)
            if dependency.status in _UNFINISHED:
                waiting.append(task_id)
            elif dependency.status is not TaskStatus.COMPLETED and failed is None:
                failed = dependency
        return tuple(waiting), failed

    def _retry_after(self) -> float:
        if self._finished_at:
            return max(1.0, self._finished_at[0] + self._result_ttl - self._clock.monotonic())
        # Nothing is finished yet: the soonest a slot frees is when a queued task ends.
        return 5.0

    # --- running --------------------------------------------------------------------------

    def _start(self, task_id: UUID, lease: str) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.status is not TaskStatus.QUEUED:
            return None  # cancelled while it waited
        if self._paused:
            # Handed out just before the pause: it waits in the queue again, at its place
            # (the dispatcher heard of the pause before this, so it keeps it).
            self._tell(self._dispatcher, Enqueue(task, self._seq[task_id]))
            return None
        self._leases[task_id] = lease
        started = self._update(
            task,
            dataclasses.replace(
                task,
                status=TaskStatus.PROCESSING,
                started_at=self._clock.now(),
                finished_at=None,
                progress=0.0,
                attempts=task.attempts + 1,
            ),
        )
        self._changed("started", started)
        return started

    def _running(self, task_id: UUID, lease: str) -> Task | None:
        """The task if ``lease`` holds its running attempt; a stale lease gets None."""
        task = self._tasks.get(task_id)
        if task is None or self._leases.get(task_id) != lease:
            return None
        return task if task.status is TaskStatus.PROCESSING else None

    def _report_progress(self, task_id: UUID, lease: str, progress: float) -> None:
        task = self._running(task_id, lease)
        if task is not None:
            # Not a status change: long-polls keep waiting.
            updated = self._tasks[task_id] = dataclasses.replace(task, progress=progress)
            self._changed("progress", updated)

    def _finish(
        self,
        task_id: UUID,
        lease: str,
        result: JSONValue,
        error: TaskError | None,
        *,
        retryable: bool = False,
    ) -> None:
        task = self._running(task_id, lease)
        if task is None:
            return  # a late report from an attempt that was cancelled or superseded
        del self._leases[task_id]
        if error is not None and error.type == "timeout":
            self._timeouts_total += 1
        if error is None:
            if result is not None:
                size = len(to_json(result))
                self._sizes[task_id] += size
                self._bytes += size
            self._end(task, TaskStatus.COMPLETED, progress=1.0, result=result)
        elif (
            (error.retryable or retryable)
            and task.attempts <= task.max_retries
            and not self._draining
        ):
            self._retry(task, error)
        else:
            self._end(task, TaskStatus.FAILED, error=error)

    def _retry(self, task: Task, error: TaskError) -> None:
        wait = backoff(self._retry_backoff, task.attempts, self._rng)
        queued = self._update(
            task,
            dataclasses.replace(
                task,
                status=TaskStatus.QUEUED,
                run_at=self._clock.now() + timedelta(seconds=wait),
                error=error,
            ),
        )
        self._retries_total += 1
        self._tell(self._dispatcher, Enqueue(queued, self._seq[task.task_id]))
        self._changed("retrying", queued)

    # --- cancelling and ending ------------------------------------------------------------

    def _cancel(self, task_id: UUID, viewer: Viewer) -> Task | None:
        task = self._visible(task_id, viewer)
        if task is None or task.status.terminal:
            return task
        return self._cancel_unfinished(task)

    def _cancel_unfinished(self, task: Task) -> Task:
        self._tell(self._dispatcher, Withdraw(task.task_id))
        self._leases.pop(task.task_id, None)
        return self._end(task, TaskStatus.CANCELLED)

    def _end(  # noqa: PLR0913 - what the ending sets, by name
        self,
        task: Task,
        status: TaskStatus,
        *,
        progress: float | None = None,
        result: JSONValue = None,
        error: TaskError | None = None,
        follow: bool = True,
    ) -> Task:
        """End the task; unless ``follow`` is false, release or cancel what waits for it."""
        now = self._clock.now()
        self._finished_at.append(self._clock.monotonic())
        self._finished_ids.append(task.task_id)
        self._finished_total[status] += 1
        if status is TaskStatus.COMPLETED:
            minute = int(now.timestamp()) // 60 * 60
            _count_completion(self._per_minute, minute)
            if (owner := self._owners.get(task.task_id)) is not None:
                per_minute = self._owners_per_minute.get(owner)
                if per_minute is None:
                    per_minute = self._owners_per_minute[owner] = deque(maxlen=STATS_MINUTES)
                _count_completion(per_minute, minute)
        ended = self._update(
            task,
            dataclasses.replace(
                task,
                status=status,
                finished_at=now,
                progress=task.progress if progress is None else progress,
                result=result,
                error=error,
            ),
        )
        self._changed(_KIND[status], ended)
        if follow and self._dependants:
            self._follow(ended)
        return ended

    def _follow(self, ended: Task) -> None:
        """Release the tasks that wait for ``ended`` once it completed, else cancel them.

        A cancelled one's own dependants are cancelled in turn, down the whole chain: with
        a list of what is left to look at, as a chain may be longer than Python's stack.
        """
        left = [ended]
        while left:
            done = left.pop()
            for task_id in self._dependants.pop(done.task_id, ()):
                task = self._tasks.get(task_id)
                if (
                    task is None
                    or task.status is not TaskStatus.QUEUED
                    or done.task_id not in task.waiting_for
                ):
                    continue  # cancelled meanwhile, or already released
                if done.status is TaskStatus.COMPLETED:
                    waiting = tuple(i for i in task.waiting_for if i != done.task_id)
                    task = self._tasks[task_id] = dataclasses.replace(task, waiting_for=waiting)
                    if not waiting:
                        self._tell(self._dispatcher, Enqueue(task, self._seq[task_id]))
                else:
                    error = _dependency_failed(done)
                    left.append(self._end(task, TaskStatus.CANCELLED, error=error, follow=False))

    def _results(self, task_ids: tuple[UUID, ...]) -> dict[UUID, JSONValue]:
        results: dict[UUID, JSONValue] = {}
        for task_id in task_ids:
            task = self._tasks.get(task_id)
            if task is not None and task.status is TaskStatus.COMPLETED:
                results[task_id] = task.result
        return results

    def _begin_drain(self) -> tuple[Task, ...]:
        self._draining = True
        cancelled = self._cancel_all(TaskStatus.QUEUED)
        # Everyone still waiting gets the task as it is now, so their requests can end.
        for task_id in list(self._waiters):
            self._wake(task_id, self._tasks.get(task_id))
        return cancelled

    def _cancel_all(self, *statuses: TaskStatus) -> tuple[Task, ...]:
        """Cancel every task in one of ``statuses``, in submission order.

        Their dependants are cancelled with them (as ``dependency_failed``), so each task
        is looked at as it is when its turn comes.
        """
        chosen = [task_id for task_id, task in self._tasks.items() if task.status in statuses]
        return tuple(
            self._cancel_unfinished(task)
            for task_id in chosen
            if (task := self._tasks[task_id]).status in statuses
        )

    def _status(self, viewer: Viewer) -> StoreStatus:
        this_minute = int(self._clock.now().timestamp()) // 60 * 60
        if viewer is None:
            counted = dict(self._per_minute)
        else:
            counted = dict(self._owners_per_minute.get(viewer, ()))
        minutes = range(this_minute - 60 * (STATS_MINUTES - 1), this_minute + 1, 60)
        counts = dict.fromkeys(TaskStatus, 0)
        for (owner, status), count in self._counts.items():
            if viewer is None or owner == viewer:
                counts[status] += count
        return StoreStatus(
            counts=counts,
            finished_total={status: self._finished_total[status] for status in TERMINAL},
            retries_total=self._retries_total,
            timeouts_total=self._timeouts_total,
            waiters=sum(len(waiters) for waiters in self._waiters.values()),
            completed_per_minute=tuple(
                (datetime.fromtimestamp(minute, UTC), counted.get(minute, 0)) for minute in minutes
            ),
            paused=self._paused,
        )

    def _update(self, task: Task, updated: Task) -> Task:
        """Replace a record whose status changed, and wake whoever waited for that."""
        owner = self._owners.get(task.task_id)
        self._counts[owner, task.status] -= 1
        self._counts[owner, updated.status] += 1
        self._tasks[task.task_id] = updated
        self._wake(updated.task_id, updated)
        return updated

    # --- long-polls -----------------------------------------------------------------------

    def _wake(self, task_id: UUID, task: Task | None) -> None:
        for waiter in self._waiters.pop(task_id, ()):
            if not waiter.done():
                waiter.set_result(task)

    def _watch(self, task_id: UUID, seen: TaskStatus, viewer: Viewer) -> Waiter:
        waiter: Waiter = asyncio.get_running_loop().create_future()
        task = self._visible(task_id, viewer)
        if task is None or task.status is not seen or task.status.terminal or self._draining:
            waiter.set_result(task)
            return waiter
        self._waiters.setdefault(task_id, set()).add(waiter)
        # A client that gives up (timeout, hang-up) cancels the future; forget it at once.
        waiter.add_done_callback(lambda done: self._forget(task_id, done))
        return waiter

    def _forget(self, task_id: UUID, waiter: Waiter) -> None:
        if waiter.cancelled():
            with contextlib.suppress(ActorStoppedError):
                self.tell(_DropWaiter(task_id, waiter))

    # --- listing and expiry ---------------------------------------------------------------

    def _list(self, query: ListTasks) -> TaskPage:
        status, task_type, viewer = query.status, query.task_type, query.viewer
        owners = self._owners
        tasks: list[Task] = []
        last = 0
        for seq, task in self._walk(query.order, query.after):
            if (
                (status is None or task.status is status)
                and (task_type is None or task.task_type == task_type)
                and (viewer is None or owners.get(task.task_id) == viewer)
            ):
                if len(tasks) == query.limit:
                    return TaskPage(tuple(tasks), last)
                tasks.append(task)
                last = seq
        return TaskPage(tuple(tasks), None)

    def _walk(self, order: Order, after: int | None) -> Iterator[tuple[int, Task]]:
        """Every kept task after position ``after``, in ``order``."""
        seqs, ids, tasks = self._seqs, self._ids, self._tasks
        if order == "oldest":
            start = 0 if after is None else bisect.bisect_right(seqs, after)
            positions: Iterator[int] = iter(range(start, len(seqs)))
        else:
            stop = len(seqs) if after is None else bisect.bisect_left(seqs, after)
            positions = reversed(range(stop))
        for position in positions:
            task = tasks.get(ids[position])
            if task is not None:
                yield seqs[position], task

    def _sweep(self) -> None:
        deadline = self._clock.monotonic() - self._result_ttl
        while self._finished_at and self._finished_at[0] <= deadline:
            self._finished_at.popleft()
            task_id = self._finished_ids.popleft()
            task = self._tasks.pop(task_id, None)
            if task is None:
                continue
            owner = self._owners.pop(task_id, None)
            del self._seq[task_id]
            self._bytes -= self._sizes.pop(task_id)
            self._counts[owner, task.status] -= 1
            if (keyed := self._keyed.pop(task_id, None)) is not None:
                del self._keys[keyed[0]]
            self._wake(task_id, None)
            self._tell(self._events, TaskChanged("removed", task_id, None, owner))
        if len(self._ids) > 2 * len(self._tasks) + 1024:
            self._compact()

    def _compact(self) -> None:
        """Drop removed tasks from the submission order (positions stay as they were)."""
        kept = [
            (seq, task_id)
            for seq, task_id in zip(self._seqs, self._ids, strict=True)
            if task_id in self._tasks
        ]
        self._seqs = [seq for seq, _ in kept]
        self._ids = [task_id for _, task_id in kept]
