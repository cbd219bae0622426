"""A worker: runs one task at a time as a child task it can cancel mid-run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from taskmanager.actors.clock import Clock
from taskmanager.actors.jobs import TaskFailedError, run_job
from taskmanager.actors.messages import (
    CancelJob,
    Enqueue,
    FinishTask,
    ReportProgress,
    RunTask,
    StartTask,
    WorkerIdle,
)
from taskmanager.actors.model import JSONValue, Task, TaskError
from taskmanager.actors.runtime import Actor, ActorStoppedError

logger = logging.getLogger(__name__)

# How long a stopping worker waits for a job that ignores cancellation.
ABANDON_DEADLINE = 1.0


@dataclass(frozen=True, slots=True)
class _JobDone:
    task_id: UUID
    result: JSONValue
    error: TaskError | None


class Worker(Actor):
    """Runs the task the dispatcher hands it and reports progress and outcome to the store."""

    def __init__(
        self, index: int, *, store: Actor, dispatcher: Actor, clock: Clock, time_scale: float
    ) -> None:
        super().__init__(f"worker-{index}")
        self.index = index
        self._store = store
        self._dispatcher = dispatcher
        self._clock = clock
        self._time_scale = time_scale
        self._current: tuple[UUID, asyncio.Task[None]] | None = None
        # Cancelled jobs that have not ended yet: kept so that they are never lost track of.
        self._abandoned: set[asyncio.Task[None]] = set()

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one worker message."""
        match message:
            case RunTask(task=task):
                await self._start_job(task)
            case _JobDone(task_id=task_id, result=result, error=error):
                if self._current is not None and self._current[0] == task_id:
                    self._current = None
                    self._store.tell(FinishTask(task_id, result, error))
                    self._dispatcher.tell(WorkerIdle(self.index))
            case CancelJob(task_id=task_id):
                if self._current is not None and self._current[0] == task_id:
                    self._release(self._current[1])
                    self._current = None
                    self._dispatcher.tell(WorkerIdle(self.index))
            case _:
                raise TypeError(f"{self.name} got an unknown message {message!r}")

    async def _start_job(self, task: Task) -> None:
        try:
            started = await self._store.ask(StartTask(task.task_id))
        except TimeoutError:
            # The store did not take the start (a timed-out ask is skipped): hand it back.
            logger.warning(
                "%s: the store did not answer; task %s goes back", self.name, task.task_id
            )
            self._dispatcher.tell(WorkerIdle(self.index))
            self._dispatcher.tell(Enqueue(task))
            return
        if started is None:  # cancelled while it waited in the queue
            self._dispatcher.tell(WorkerIdle(self.index))
            return
        job = asyncio.create_task(self._execute(started), name=f"job:{task.task_id}")
        self._current = (task.task_id, job)

    async def _execute(self, task: Task) -> None:
        error: TaskError | None = None
        result: JSONValue = None
        try:
            result = await run_job(task.parameters, self._sleep, self._progress(task.task_id))
        except Exception as exc:  # noqa: BLE001 - every failure of a job becomes the task's error
            match exc:
                case TaskFailedError():
                    error = TaskError(exc.error_type, str(exc))
                case _:
                    logger.warning("task %s crashed: %r", task.task_id, exc)
                    error = TaskError("crash", f"the job crashed: {type(exc).__name__}: {exc}")
        with contextlib.suppress(ActorStoppedError):  # the worker stopped while the job ran
            self.tell(_JobDone(task.task_id, result, error))

    async def _sleep(self, seconds: float) -> None:
        await self._clock.sleep(seconds * self._time_scale)

    def _progress(self, task_id: UUID) -> Any:  # noqa: ANN401
        def report(progress: float) -> None:
            with contextlib.suppress(ActorStoppedError):
                self._store.tell(ReportProgress(task_id, progress))

        return report

    def _release(self, job: asyncio.Task[None]) -> None:
        job.cancel()
        if not job.done():
            self._abandoned.add(job)
            job.add_done_callback(self._abandoned.discard)

    async def on_restart(self, error: Exception) -> None:
        """The task this worker held fails, and the worker is idle again.

        A worker that held nothing stays as it was: a task handed to it may still wait in
        its mailbox, and it will run.
        """
        if self._current is not None:
            task_id, job = self._current
            self._current = None
            self._release(job)
            crashed = TaskError("worker_crashed", f"the worker crashed: {error}")
            self._store.tell(FinishTask(task_id, error=crashed))
            self._dispatcher.tell(WorkerIdle(self.index))

    async def on_stop(self) -> None:
        """Cancel the running job and wait a bounded time for every job to end."""
        if self._current is not None:
            self._release(self._current[1])
            self._current = None
        if self._abandoned:
            _, stuck = await asyncio.wait(self._abandoned, timeout=ABANDON_DEADLINE)
            for job in stuck:
                logger.error(
                    "%s: job %s ignored cancellation; leaving it", self.name, job.get_name()
                )
