"""The pending queue in Redis: ready tasks by priority, delayed ones by their run_at.

The submit, cancel and finish scripts put tasks in and take them out; this side only
claims the next ready one for an idle worker of this replica (the claim starts its
attempt, in the same script), and gives back one that a worker could not run.
"""

from __future__ import annotations

import itertools
from typing import Final
from uuid import UUID

from redis.asyncio import Redis

from taskmanager.actors.model import Task
from taskmanager.actors.redis.connection import Scripts, reachable
from taskmanager.actors.redis.records import pairs, task_from
from taskmanager.actors.redis.store import Arm, Disarm
from taskmanager.actors.runtime import Actor

#: With an idle worker and nothing due, the dispatcher looks again this often anyway,
#: in case a ring of the doorbell was missed (or taken by a replica that got busy).
RECHECK_SECONDS: Final = 1.0
#: Under load (something is always ready), how late a due delayed task may be made ready.
PROMOTE_SECONDS: Final = 0.05


class RedisQueue:
    """The dispatcher's view of the shared queue (see ``taskmanager.actors.queue``)."""

    def __init__(
        self, redis: Redis, scripts: Scripts, prefix: str, replica: str, doorbell: Actor
    ) -> None:
        self._redis = redis
        self._doorbell = doorbell
        self._scripts = scripts
        self._prefix = prefix
        self._replica = replica
        self._next_due: float | None = None
        self._promote_at = 0.0
        # One lease per claim: no other attempt, here or on any replica, has it.
        self._leases = (f"{replica}/{number}" for number in itertools.count(1))

    async def add(self, task: Task, seq: int, lease: str | None = None) -> None:  # noqa: ARG002 - Redis knows its place
        """Give back a task a worker here could not run (the scripts queue new ones).

        Its attempt, started by the claim, is undone: it does not count as one.
        """
        await self._scripts("release", task.task_id, lease or "", self._replica)

    async def remove(self, task_id: UUID) -> bool:  # noqa: ARG002 - the cancel script did it
        """Nothing to do: cancelling took the task out of the queue already."""
        return False

    async def take(self, now: float, *, last: bool = False) -> tuple[Task, int, str] | None:
        """Claim the next ready task for this replica and start it, if there is one.

        With none, the doorbell waits for the next one to become ready (anywhere). Due
        delayed tasks are made ready by the claim now and then, not at every one (and
        always when nothing is ready): a command less for each task under load.
        """
        if last:
            # The claim may take this replica's last idle worker: what becomes ready
            # meanwhile is for another replica (a submission here rings for it). While
            # another worker stays idle, this replica is still the one to wake.
            self._doorbell.tell(Disarm())
        lease = next(self._leases)
        promote = now >= self._promote_at
        reply = await self._scripts(
            "claim", self._replica, lease, "1" if last else "0", "1" if promote else "0"
        )
        if reply[0] == "task":
            # Only a claim that took a task surely looked (a paused queue looks at nothing).
            if promote:
                self._promote_at = now + PROMOTE_SECONDS
            fields = pairs(reply[1:])
            return task_from(fields), int(fields["seq"]), lease
        self._doorbell.tell(Arm())
        self._next_due = int(reply[1]) / 1_000_000 if reply[1] else None
        return None

    async def next_due(self, now: float) -> float | None:
        """When to look again: the next delayed task, or a second from now at the latest."""
        recheck = now + RECHECK_SECONDS
        if self._next_due is None or self._next_due <= now:  # taken since, or about to be
            return recheck
        return min(self._next_due, recheck)

    async def size(self) -> int:
        """How many tasks wait, in the whole service."""
        with reachable():
            return int(await self._redis.zcard(f"{self._prefix}:idx:queued"))
