"""A worker: runs one task at a time as a child task it can cancel mid-run."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import (
    CancelJob,
    FinishTask,
    HandBack,
    ReportProgress,
    RunTask,
    StartTask,
    WorkerIdle,
)
from taskmanager.actors.model import Task, TaskError
from taskmanager.actors.runtime import Actor, ActorStoppedError
from taskmanager.actors.tasktypes import JSONValue, TaskFailedError

logger = logging.getLogger(__name__)

# How long a stopping worker waits for a job that ignores cancellation.
ABANDON_DEADLINE = 1.0


@dataclass(frozen=True, slots=True)
class _JobDone:
    task_id: UUID
    lease: str
    result: JSONValue
    error: TaskError | None


@dataclass(slots=True)
class _Attempt:
    """The attempt this worker runs: which task, under which lease, as which asyncio task."""

    task_id: UUID
    lease: str
    job: asyncio.Task[None]


class _JobWork:
    """What a job may do: simulated waiting (scaled) and progress reports to the store."""

    __slots__ = ("_lease", "_store", "_task_id", "_worker")

    def __init__(self, worker: Worker, task_id: UUID, lease: str) -> None:
        self._worker = worker
        self._store = worker.store
        self._task_id = task_id
        self._lease = lease

    async def sleep(self, seconds: float) -> None:
        await self._worker.clock.sleep(seconds * self._worker.time_scale)

    def progress(self, fraction: float) -> None:
        with contextlib.suppress(ActorStoppedError):
            self._store.tell(ReportProgress(self._task_id, self._lease, fraction))


class Worker(Actor):
    """Runs the task the dispatcher hands it and reports progress and outcome to the store.

    Each attempt runs under a lease, a name no other attempt has: the store accepts
    progress and outcome only from the attempt that holds the task's current lease.
    """

    def __init__(  # noqa: PLR0913 - collaborators and settings, all by name
        self,
        index: int,
        *,
        store: Actor,
        dispatcher: Actor,
        clock: Clock,
        time_scale: float,
        replica: str = "local",
    ) -> None:
        super().__init__(f"worker-{index}")
        self.index = index
        self.store = store
        self.clock = clock
        self.time_scale = time_scale
        self._dispatcher = dispatcher
        self._leases = (f"{replica}/{index}/{number}" for number in itertools.count(1))
        # The task handed to this worker and not yet reported idle, started or not.
        self._assigned: tuple[Task, int] | None = None
        self._trying: str | None = None  # the lease of the last start this worker tried
        self._current: _Attempt | None = None
        # Cancelled jobs that have not ended yet: kept so that they are never lost track of.
        self._abandoned: set[asyncio.Task[None]] = set()

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one worker message."""
        match message:
            case RunTask(task=task, seq=seq):
                self._assigned = (task, seq)
                await self._start_job(task)
            case _JobDone(task_id=task_id, lease=lease, result=result, error=error):
                current = self._current
                if current is not None and current.lease == lease:
                    self._become_idle()
                    self.store.tell(FinishTask(task_id, lease, result, error))
            case CancelJob(task_id=task_id):
                if self._current is not None and self._current.task_id == task_id:
                    self._release(self._current.job)
                    self._become_idle()
            case _:
                raise TypeError(f"{self.name} got an unknown message {message!r}")

    async def _start_job(self, task: Task) -> None:
        lease = next(self._leases)
        self._trying = lease
        try:
            started = await self.store.ask(StartTask(task.task_id, lease))
        except Exception as error:  # noqa: BLE001 - whatever failed, the task goes back
            # Not started: the store refused or did not answer (a timed-out ask is skipped
            # unhandled). Give the task back and be ready for the next one.
            logger.warning(
                "%s: could not start task %s (%r); it goes back", self.name, task.task_id, error
            )
            self._hand_back()
            return
        if started is None:  # cancelled while it waited in the queue
            self._become_idle()
            return
        job = asyncio.create_task(self._execute(started, lease), name=f"job:{task.task_id}")
        self._current = _Attempt(task.task_id, lease, job)

    async def _execute(self, task: Task, lease: str) -> None:
        error: TaskError | None = None
        result: JSONValue = None
        try:
            result = await self._run_attempt(task, lease)
        except Exception as exc:  # noqa: BLE001 - every failure of a job becomes the task's error
            match exc:
                case TaskFailedError():
                    error = TaskError(exc.error_type, str(exc))
                case _AttemptTimedOutError():
                    error = TaskError("timeout", str(exc))
                case _:
                    logger.warning("task %s crashed: %r", task.task_id, exc)
                    error = TaskError("crash", f"the job crashed: {type(exc).__name__}: {exc}")
        with contextlib.suppress(ActorStoppedError):  # the worker stopped while the job ran
            self.tell(_JobDone(task.task_id, lease, result, error))

    async def _run_attempt(self, task: Task, lease: str) -> JSONValue:
        """The job, cancelled from inside its worker when it outlives the task's timeout."""
        work = _JobWork(self, task.task_id, lease)
        if task.timeout is None:
            return await task.parameters.run(work)
        job = asyncio.ensure_future(task.parameters.run(work))
        deadline = asyncio.ensure_future(self.clock.sleep(task.timeout))
        try:
            await asyncio.wait((job, deadline), return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
            if not job.done():
                job.cancel()
                await asyncio.wait({job}, timeout=ABANDON_DEADLINE)
        if not job.done() or job.cancelled():
            raise _AttemptTimedOutError(
                f"the attempt ran longer than its {task.timeout:g} s timeout"
            )
        return job.result()

    def _become_idle(self) -> None:
        self._assigned = None
        self._current = None
        self._dispatcher.tell(WorkerIdle(self.index))

    def _hand_back(self) -> None:
        if self._assigned is not None:
            task, seq = self._assigned
            with contextlib.suppress(ActorStoppedError):
                self._dispatcher.tell(HandBack(task, seq, self._trying))
        with contextlib.suppress(ActorStoppedError):
            self._become_idle()

    def _release(self, job: asyncio.Task[None]) -> None:
        job.cancel()
        if not job.done():
            self._abandoned.add(job)
            job.add_done_callback(self._abandoned.discard)

    async def on_crash(self, error: Exception) -> None:
        """Give up what the crash interrupted, and be idle again.

        A running attempt is lost (``worker_lost``, retried if the task allows); a task
        handed over but not started goes back to the queue. A worker that held nothing
        stays as it was: a task handed to it may still wait in its mailbox, and it runs.
        """
        current = self._current
        if current is not None:
            self._release(current.job)
            lost = TaskError("worker_lost", f"the worker crashed: {error}")
            self._become_idle()
            self.store.tell(FinishTask(current.task_id, current.lease, error=lost))
        elif self._assigned is not None:
            self._hand_back()

    async def on_stop(self) -> None:
        """Cancel the running job and wait a bounded time for every job to end."""
        if self._current is not None:
            self._release(self._current.job)
            self._current = None
        if self._abandoned:
            _, stuck = await asyncio.wait(self._abandoned, timeout=ABANDON_DEADLINE)
            for job in stuck:
                logger.error(
                    "%s: job %s ignored cancellation; leaving it", self.name, job.get_name()
                )


class _AttemptTimedOutError(Exception):
    """The attempt ran longer than the task's ``timeout``."""
