"""The dispatcher: owns the pending queue and knows which workers are idle."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from taskmanager.actors.messages import (
    CancelJob,
    DispatcherStatus,
    Enqueue,
    GetDispatcherStatus,
    RunTask,
    Withdraw,
    WorkerIdle,
)
from taskmanager.actors.model import Task
from taskmanager.actors.runtime import Actor


class Dispatcher(Actor):
    """Hands each queued task to exactly one idle worker, oldest task first."""

    def __init__(self) -> None:
        super().__init__("dispatcher")
        self._workers: Sequence[Actor] = ()
        # A dict rather than an asyncio.Queue: cancelling a queued task removes it in O(1)
        # while keeping first-in, first-out order.
        self._pending: dict[UUID, Task] = {}
        self._idle: deque[int] = deque()
        self._running: dict[UUID, int] = {}
        self._assigned: dict[int, UUID] = {}

    def attach(self, workers: Sequence[Actor]) -> None:
        """Give the dispatcher its workers, all idle; call before it starts."""
        self._workers = tuple(workers)
        self._idle = deque(range(len(workers)))

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one dispatcher message."""
        match message:
            case Enqueue(task=task):
                self._pending[task.task_id] = task
                self._dispatch()
            case WorkerIdle(worker=worker):
                if (task_id := self._assigned.pop(worker, None)) is not None:
                    self._running.pop(task_id, None)
                if worker not in self._idle:
                    self._idle.append(worker)
                self._dispatch()
            case Withdraw(task_id=task_id):
                if self._pending.pop(task_id, None) is None and task_id in self._running:
                    self._workers[self._running[task_id]].tell(CancelJob(task_id))
            case GetDispatcherStatus():
                return DispatcherStatus(
                    queued=len(self._pending),
                    busy=len(self._workers) - len(self._idle),
                    workers=len(self._workers),
                )
            case _:
                raise TypeError(f"dispatcher got an unknown message {message!r}")
        return None

    def _dispatch(self) -> None:
        while self._pending and self._idle:
            task_id = next(iter(self._pending))
            task = self._pending.pop(task_id)
            worker = self._idle.popleft()
            self._running[task_id] = worker
            self._assigned[worker] = task_id
            self._workers[worker].tell(RunTask(task))
