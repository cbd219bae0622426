"""The dispatcher: owns the pending queue and knows which workers are idle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import (
    CancelJob,
    DispatcherStatus,
    Enqueue,
    GetDispatcherStatus,
    GetRunning,
    HandBack,
    HoldDispatch,
    RunTask,
    StopDispatching,
    WhenIdle,
    Withdraw,
    WithdrawAll,
    WorkAvailable,
    WorkerIdle,
)
from taskmanager.actors.model import Task
from taskmanager.actors.queue import JobQueue, MemoryQueue
from taskmanager.actors.runtime import Actor, ActorStoppedError, Later, UnavailableError

logger = logging.getLogger(__name__)

#: Seconds before the dispatcher tries a queue it could not reach again.
UNAVAILABLE_RETRY = 1.0


@dataclass(frozen=True, slots=True)
class _Due:
    """The timer fired: the earliest delayed task is due."""


class Dispatcher(Actor):
    """Hands each ready task to exactly one idle worker: highest priority, then oldest.

    Delayed tasks take no worker until they are due; one timer, set for the earliest of
    them, wakes the dispatcher then.
    """

    def __init__(self, clock: Clock, queue: JobQueue | None = None) -> None:
        super().__init__("dispatcher")
        self._clock = clock
        self._queue = queue or MemoryQueue()
        self._workers: Sequence[Actor] = ()
        self._idle: deque[int] = deque()
        self._running: dict[UUID, int] = {}
        self._assigned: dict[int, UUID] = {}
        self._dispatching = True
        self._held = False  # the queue is paused
        # Tasks a worker could not start, until the queue has them back.
        self._handbacks: list[tuple[Task, int, str | None]] = []
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: float | None = None
        # The queue had nothing ready for an idle worker when last asked, and nothing said
        # since that it may have: a worker that frees meanwhile need not ask again.
        self._found_none = False
        self._stopped = False

    def attach(self, workers: Sequence[Actor]) -> None:
        """Give the dispatcher its workers, all idle; call before it starts."""
        self._workers = tuple(workers)
        self._idle = deque(range(len(workers)))

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one dispatcher message."""
        match message:
            case Enqueue(task=task, seq=seq):
                await self._queue.add(task, seq)
                await self._dispatch(look=True)
            case HandBack(task=task, seq=seq, lease=lease):
                # Back at its place: the queue orders by priority and submission order.
                self._handbacks.append((task, seq, lease))
                await self._dispatch(look=True)
            case WorkerIdle(worker=worker):
                task_id = self._assigned.pop(worker, None)
                # The task may run on another worker by now (handed back, then taken again).
                if task_id is not None and self._running.get(task_id) == worker:
                    del self._running[task_id]
                if worker not in self._idle:
                    self._idle.append(worker)
                # While another worker here waits for work, the queue tells when there
                # is some (a submission, a ring of the shared queue's doorbell, a timer):
                # asking it again now would only find nothing, a round trip on Redis.
                await self._dispatch(look=not self._found_none)
                self._notify_idle()
            case _Due() | WorkAvailable():
                # A _Due told before a newer timer was set must not forget that timer.
                if isinstance(message, _Due) and self._timer is not None and self._timer.done():
                    self._timer = self._timer_due = None
                await self._dispatch(look=True)
            case Withdraw(task_id=task_id):
                if not await self._queue.remove(task_id) and task_id in self._running:
                    self._workers[self._running[task_id]].tell(CancelJob(task_id))
            case WithdrawAll():
                for task_id, worker in self._running.items():
                    self._workers[worker].tell(CancelJob(task_id))
            case GetDispatcherStatus():
                busy = len(self._workers) - len(self._idle)
                return Later(self._status(busy))
            case GetRunning():
                return frozenset(self._running)
            case HoldDispatch(paused=paused):
                self._held = paused
                await self._dispatch(look=True)
            case StopDispatching():
                self._dispatching = False
                self._set_timer(None)
            case WhenIdle():
                idle: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._idle_waiters.append(idle)
                self._notify_idle()
                return idle
            case _:
                raise TypeError(f"dispatcher got an unknown message {message!r}")
        return None

    async def _status(self, busy: int) -> DispatcherStatus:
        return DispatcherStatus(
            queued=await self._queue.size(), busy=busy, workers=len(self._workers)
        )

    async def _dispatch(self, *, look: bool) -> None:
        """Hand ready tasks to idle workers; ``look``: even if the queue had none last time."""
        now = self._clock.now().timestamp()
        try:
            while self._handbacks:
                task, seq, lease = self._handbacks[0]
                await self._queue.add(task, seq, lease)
                self._handbacks.pop(0)
            if not self._dispatching or self._held:
                self._set_timer(None)
                return
            if self._found_none and not look:
                return
            self._found_none = False
            while self._idle:
                taken = await self._queue.take(now, last=len(self._idle) == 1)
                if taken is None:
                    self._found_none = True
                    break
                task, seq, lease = taken
                worker = self._idle.popleft()
                self._running[task.task_id] = worker
                self._assigned[worker] = task.task_id
                self._workers[worker].tell(RunTask(task, seq, lease))
            self._set_timer(await self._queue.next_due(now))
        except UnavailableError as error:
            # The shared queue cannot be reached: look again shortly, without a crash.
            logger.warning("dispatcher: the queue cannot be reached; retrying: %s", error)
            self._set_timer(now + UNAVAILABLE_RETRY)

    def _set_timer(self, due: float | None) -> None:
        """One timer, for the earliest delayed task: no per-task timers, no polling.

        None once stopped: a dispatch still under way when the stop came (its cancel not
        taken yet, or turned into an unreachable queue, which is retried) starts none.
        """
        if self._stopped:
            due = None
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = None if due is None else asyncio.create_task(self._wake_at(due))

    async def _wake_at(self, due: float) -> None:
        await self._clock.sleep(max(0.0, due - self._clock.now().timestamp()))
        with contextlib.suppress(ActorStoppedError):
            self.tell(_Due())

    def _notify_idle(self) -> None:
        if len(self._idle) == len(self._workers):
            for idle in self._idle_waiters:
                if not idle.done():
                    idle.set_result(None)
            self._idle_waiters.clear()

    async def on_start(self) -> None:
        """Look at the queue once: with Redis, tasks may wait there from before this process."""
        self.tell(WorkAvailable())

    async def on_stop(self) -> None:
        """Stop the timer."""
        self._stopped = True
        timer = self._timer
        self._timer = self._timer_due = None
        if timer is not None:
            timer.cancel()
            await asyncio.wait({timer})
