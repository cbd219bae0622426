"""The pending queue: ready tasks by priority, delayed tasks by the moment they are due."""

from __future__ import annotations

import heapq
from typing import Protocol
from uuid import UUID

from taskmanager.actors.model import Task


class JobQueue(Protocol):
    """Where queued tasks wait for a worker; the dispatcher is its only user."""

    async def add(self, task: Task, seq: int, lease: str | None = None) -> None:
        """Queue a task (again, when a start under ``lease`` failed); ready at its run_at."""
        ...

    async def remove(self, task_id: UUID) -> bool:
        """Drop a queued task; whether it was there."""
        ...

    async def take(self, now: float, *, last: bool = False) -> tuple[Task, int, str | None] | None:
        """The ready task to run next, its ``seq`` and its attempt's lease if it started it.

        ``now``: seconds since the epoch. ``last``: the task goes to the dispatcher's last
        idle worker (a shared queue tells others of what stays ready). A queue that starts
        the attempt as it hands the task over gives its lease; else None, and the worker
        starts it.
        """
        ...

    async def next_due(self, now: float) -> float | None:
        """When the next delayed task becomes ready, if one is not ready at ``now`` yet."""
        ...

    async def size(self) -> int:
        """How many tasks wait, ready or delayed."""
        ...


class MemoryQueue:
    """Two heaps in this process: O(log n) to add and to take, O(1) to remove.

    The heaps hold only numbers, ``(priority, seq)`` and ``(due, seq)``, so the garbage
    collector never walks them however long the backlog grows. A removed task stays in
    its heap and is skipped when it comes up, so cancelling never searches a heap.
    """

    def __init__(self) -> None:
        # Ready: highest priority first, then submission order. Delayed: earliest first.
        self._ready: list[tuple[int, int]] = []
        self._delayed: list[tuple[float, int]] = []
        self._waiting: dict[int, Task] = {}  # by seq
        self._seqs: dict[UUID, int] = {}

    async def add(self, task: Task, seq: int, lease: str | None = None) -> None:  # noqa: ARG002 - a start here never half-happens
        """Queue a task; it becomes ready at its ``run_at``."""
        self._waiting[seq] = task
        self._seqs[task.task_id] = seq
        heapq.heappush(self._delayed, (task.run_at.timestamp(), seq))

    async def remove(self, task_id: UUID) -> bool:
        """Drop a queued task; whether it was there."""
        seq = self._seqs.pop(task_id, None)
        return seq is not None and self._waiting.pop(seq, None) is not None

    async def take(self, now: float, *, last: bool = False) -> tuple[Task, int, None] | None:  # noqa: ARG002 - one process: nobody else to tell
        """The ready task to run next: highest priority, then the earliest submitted."""
        self._promote(now)
        while self._ready:
            _, seq = heapq.heappop(self._ready)
            task = self._waiting.pop(seq, None)
            if task is not None:
                del self._seqs[task.task_id]
                return task, seq, None
        return None

    async def next_due(self, now: float) -> float | None:
        """When the next delayed task becomes ready, if one is not ready at ``now`` yet."""
        self._promote(now)
        while self._delayed and self._delayed[0][1] not in self._waiting:
            heapq.heappop(self._delayed)  # removed while it waited
        return self._delayed[0][0] if self._delayed else None

    async def size(self) -> int:
        """How many tasks wait, ready or delayed."""
        return len(self._waiting)

    def _promote(self, now: float) -> None:
        """Move every task that is due from the delayed heap to the ready heap."""
        delayed, ready, waiting = self._delayed, self._ready, self._waiting
        while delayed and delayed[0][0] <= now:
            _, seq = heapq.heappop(delayed)
            task = waiting.get(seq)
            if task is not None:
                heapq.heappush(ready, (-task.priority, seq))
