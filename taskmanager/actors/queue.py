"""The pending queue: ready tasks by priority, delayed tasks by the moment they are due."""

from __future__ import annotations

import heapq
from typing import Protocol
from uuid import UUID

from taskmanager.actors.model import Task

# Ready: highest priority first, then submission order. Delayed: earliest run_at first.
type _ReadyKey = tuple[int, int, UUID]
type _DelayedKey = tuple[float, int, UUID]


class JobQueue(Protocol):
    """Where queued tasks wait for a worker; the dispatcher is its only user."""

    async def add(self, task: Task, seq: int, lease: str | None = None) -> None:
        """Queue a task (again, when a start under ``lease`` failed); ready at its run_at."""
        ...

    async def remove(self, task_id: UUID) -> bool:
        """Drop a queued task; whether it was there."""
        ...

    async def take(self, now: float) -> tuple[Task, int] | None:
        """The ready task to run next and its ``seq`` (``now``: seconds since the epoch)."""
        ...

    async def next_due(self, now: float) -> float | None:
        """When the next delayed task becomes ready, if one is not ready at ``now`` yet."""
        ...

    async def size(self) -> int:
        """How many tasks wait, ready or delayed."""
        ...


class MemoryQueue:
    """Two heaps in this process: O(log n) to add and to take, O(1) to remove.

    A removed task stays in its heap and is skipped when it comes up, so cancelling never
    searches a heap.
    """

    def __init__(self) -> None:
        self._ready: list[_ReadyKey] = []
        self._delayed: list[_DelayedKey] = []
        # The tasks that wait, by id; a heap entry whose id is not here was removed.
        self._waiting: dict[UUID, tuple[Task, int]] = {}

    async def add(self, task: Task, seq: int, lease: str | None = None) -> None:  # noqa: ARG002 - a start here never half-happens
        """Queue a task; it becomes ready at its ``run_at``."""
        self._waiting[task.task_id] = (task, seq)
        heapq.heappush(self._delayed, (task.run_at.timestamp(), seq, task.task_id))

    async def remove(self, task_id: UUID) -> bool:
        """Drop a queued task; whether it was there."""
        return self._waiting.pop(task_id, None) is not None

    async def take(self, now: float) -> tuple[Task, int] | None:
        """The ready task to run next: highest priority, then the earliest submitted."""
        self._promote(now)
        while self._ready:
            _, seq, task_id = heapq.heappop(self._ready)
            waiting = self._waiting.get(task_id)
            if waiting is not None and waiting[1] == seq:
                del self._waiting[task_id]
                return waiting
        return None

    async def next_due(self, now: float) -> float | None:
        """When the next delayed task becomes ready, if one is not ready at ``now`` yet."""
        self._promote(now)
        while self._delayed and self._delayed[0][2] not in self._waiting:
            heapq.heappop(self._delayed)  # removed while it waited
        return self._delayed[0][0] if self._delayed else None

    async def size(self) -> int:
        """How many tasks wait, ready or delayed."""
        return len(self._waiting)

    def _promote(self, now: float) -> None:
        """Move every task that is due from the delayed heap to the ready heap."""
        delayed, ready, waiting = self._delayed, self._ready, self._waiting
        while delayed and delayed[0][0] <= now:
            _, seq, task_id = heapq.heappop(delayed)
            if task_id in waiting:
                task = waiting[task_id][0]
                heapq.heappush(ready, (-task.priority, seq, task_id))
