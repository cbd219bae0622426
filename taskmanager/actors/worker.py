"""A worker: runs one task at a time as a child task it can cancel mid-run."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from taskmanager.actors.clock import Clock
from taskmanager.actors.executors import JobThreads, ProcessRunner
from taskmanager.actors.messages import (
    CancelJob,
    FinishTask,
    GetResults,
    HandBack,
    ReportProgress,
    RunTask,
    StartTask,
    WorkerIdle,
)
from taskmanager.actors.model import Task, TaskError
from taskmanager.actors.runtime import Actor, ActorStoppedError
from taskmanager.jobs import Context, JSONValue, TaskTypes, TaskTypeSpec, error_type_of

logger = logging.getLogger(__name__)

# How long a stopping worker waits for a job that ignores cancellation.
ABANDON_DEADLINE = 1.0


@dataclass(frozen=True, slots=True)
class _JobDone:
    task_id: UUID
    lease: str
    result: JSONValue
    error: TaskError | None
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class _ThreadReturned:
    """The thread of an attempt whose outcome was already settled has returned."""

    lease: str


@dataclass(slots=True)
class _Attempt:
    """The attempt this worker runs: which task, under which lease, as which asyncio task."""

    task_id: UUID
    lease: str
    job: asyncio.Task[None]
    ctx: Context
    #: The pool thread running the job's code, for the thread executor.
    thread: concurrent.futures.Future[Any] | None = field(default=None)


class _JobFailedError(Exception):
    """The job could not run or its outcome cannot be kept: ``error`` says why."""

    def __init__(self, error: TaskError) -> None:
        super().__init__(error.message)
        self.error = error


class Worker(Actor):
    """Runs the task the dispatcher hands it and reports progress and outcome to the store.

    Each attempt runs under a lease, a name no other attempt has: the store accepts
    progress and outcome only from the attempt that holds the task's current lease.

    A ``thread`` job cannot be stopped: when its task is cancelled or times out, the
    task ends at once, the job sees ``ctx.cancelled``, its late result is dropped, and
    this worker stays busy until the thread returns, so no more jobs run user code at
    once than there are workers.
    """

    def __init__(  # noqa: PLR0913 - collaborators and settings, all by name
        self,
        index: int,
        *,
        store: Actor,
        dispatcher: Actor,
        clock: Clock,
        time_scale: float,
        task_types: TaskTypes,
        threads: JobThreads,
        processes: ProcessRunner | None = None,
        replica: str = "local",
    ) -> None:
        super().__init__(f"worker-{index}")
        self.index = index
        self.store = store
        self.clock = clock
        self.time_scale = time_scale
        self.task_types = task_types
        self._threads = threads
        self._processes = processes
        self._dispatcher = dispatcher
        self._leases = (f"{replica}/{index}/{number}" for number in itertools.count(1))
        # The task handed to this worker and not yet reported idle, started or not.
        self._assigned: tuple[Task, int] | None = None
        self._trying: str | None = None  # the lease of the last start this worker tried
        self._current: _Attempt | None = None
        # The lease of a settled attempt whose thread still runs: the worker waits for it.
        self._returning: str | None = None
        # Cancelled jobs that have not ended yet: kept so that they are never lost track of.
        self._abandoned: set[asyncio.Task[None]] = set()

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one worker message."""
        match message:
            case RunTask(task=task, seq=seq, lease=lease):
                self._assigned = (task, seq)
                if lease is None:
                    await self._start_job(task)
                else:  # started by the queue as it handed the task over: run it as it is
                    self._trying = lease
                    self._begin(task, lease)
            case _JobDone(task_id=task_id, lease=lease, result=result, error=error):
                current = self._current
                if current is not None and current.lease == lease:
                    self._settle(current)
                    self.store.tell(
                        FinishTask(task_id, lease, result, error, retryable=message.retryable)
                    )
            case CancelJob(task_id=task_id):
                current = self._current
                if current is not None and current.task_id == task_id:
                    current.ctx.cancel()
                    self._release(current.job)
                    self._settle(current)
            case _ThreadReturned(lease=lease):
                if self._returning == lease:
                    self._returning = None
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
        self._begin(started, lease)

    def _begin(self, started: Task, lease: str) -> None:
        ctx = self._context(started, lease)
        job = asyncio.create_task(self._execute(started, lease, ctx), name=f"job:{started.task_id}")
        self._current = _Attempt(started.task_id, lease, job, ctx)

    def _context(self, task: Task, lease: str) -> Context:
        loop = asyncio.get_running_loop()
        store, task_id = self.store, task.task_id

        def report(fraction: float) -> None:
            with contextlib.suppress(ActorStoppedError):
                store.tell(ReportProgress(task_id, lease, fraction))

        async def sleep(seconds: float) -> None:
            await self.clock.sleep(seconds * self.time_scale)

        def schedule(callback: Callable[[], None]) -> None:
            # Thread-safe, so that a thread or process job may report progress too; a job
            # that outlives the service has nobody left to tell.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

        return Context(
            task_id,
            max(task.attempts, 1),
            report=report,
            schedule=schedule,
            sleep=sleep,
            logger=logging.getLogger(f"taskmanager.jobs.{task.task_type}"),
        )

    async def _execute(self, task: Task, lease: str, ctx: Context) -> None:
        error: TaskError | None = None
        result: JSONValue = None
        retryable = False
        spec: TaskTypeSpec | None = None
        try:
            if task.depends_on:
                ctx.dependencies = await self.store.ask(GetResults(task.depends_on))
            spec, params = self._prepare(task)
            result = _json_value(await self._run_attempt(task, spec, params, ctx))
        except (_JobFailedError, _AttemptTimedOutError) as exc:
            error = (
                exc.error if isinstance(exc, _JobFailedError) else TaskError("timeout", str(exc))
            )
        except Exception as exc:
            error = TaskError(error_type_of(exc), str(exc))
            retryable = spec is not None and (
                spec.retries(exc)
                # A process runner re-raises the job's exception as a stand-in that says so.
                or (spec.executor == "process" and getattr(exc, "retryable", False) is True)
            )
            logger.warning("task %s failed: %s: %s", task.task_id, error.type, error.message)
            logger.debug("task %s: the job raised", task.task_id, exc_info=exc)
        with contextlib.suppress(ActorStoppedError):  # the worker stopped while the job ran
            self.tell(_JobDone(task.task_id, lease, result, error, retryable))

    def _prepare(self, task: Task) -> tuple[TaskTypeSpec, BaseModel]:
        """The task's type and its parameters as that type's model."""
        spec = self.task_types.get(task.task_type)
        if spec is None:
            raise _JobFailedError(
                TaskError(
                    "unknown_task_type",
                    f"this worker does not know the task type {task.task_type!r} "
                    "(it is not in its TASKMANAGER_TASKS)",
                )
            )
        # Records keep the JSON the request was validated from; each attempt gets an
        # instance of its own, so a job that changes it changes nothing else.
        try:
            params = spec.parameters.model_validate_json(task.parameters.json)
        except ValidationError as exc:
            message = f"the parameters no longer fit the task type: {exc.errors()[0]['msg']}"
            raise _JobFailedError(TaskError("bad_parameters", message)) from None
        return spec, params

    async def _run_attempt(
        self, task: Task, spec: TaskTypeSpec, params: BaseModel, ctx: Context
    ) -> object:
        """The job, cancelled from inside its worker when it outlives the task's timeout."""
        if task.timeout is None:
            return await self._run_job(spec, params, ctx)
        job = asyncio.ensure_future(self._run_job(spec, params, ctx))
        deadline = asyncio.ensure_future(self.clock.sleep(task.timeout))
        try:
            await asyncio.wait((job, deadline), return_when=asyncio.FIRST_COMPLETED)
        finally:
            deadline.cancel()
            if not job.done():
                ctx.cancel()
                job.cancel()
                await asyncio.wait({job}, timeout=ABANDON_DEADLINE)
        if not job.done() or job.cancelled():
            raise _AttemptTimedOutError(
                f"the attempt ran longer than its {task.timeout:g} s timeout"
            )
        return job.result()

    async def _run_job(self, spec: TaskTypeSpec, params: BaseModel, ctx: Context) -> object:
        """Run the job with its executor."""
        match spec.executor:
            case "async":
                return await spec.function(params, ctx)
            case "process" if self._processes is not None:
                return await self._processes.run(spec, params, ctx)
            case "thread" | "process":  # process: no process runner given, run in a thread
                return await self._in_thread(spec.function, params, ctx)

    async def _in_thread(
        self, function: Callable[[BaseModel, Context], object], params: BaseModel, ctx: Context
    ) -> object:
        thread = self._threads.submit(function, params, ctx)
        if self._current is not None and self._current.ctx is ctx:
            self._current.thread = thread
        return await asyncio.wrap_future(thread)

    def _settle(self, attempt: _Attempt) -> None:
        """The attempt's outcome is known: be idle, or once its thread returns."""
        thread = attempt.thread
        if thread is None or thread.done():
            self._become_idle()
            return
        self._current = None
        self._assigned = None
        self._returning = attempt.lease
        loop = asyncio.get_running_loop()
        message = _ThreadReturned(attempt.lease)

        def returned(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the service stopped meanwhile
                loop.call_soon_threadsafe(self._tell_quietly, message)

        thread.add_done_callback(returned)

    def _tell_quietly(self, message: object) -> None:
        with contextlib.suppress(ActorStoppedError):
            self.tell(message)

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
            current.ctx.cancel()
            self._release(current.job)
            lost = TaskError("worker_lost", f"the worker crashed: {error}")
            self._settle(current)
            self.store.tell(FinishTask(current.task_id, current.lease, error=lost))
        elif self._assigned is not None:
            self._hand_back()

    async def on_stop(self) -> None:
        """Cancel the running job and wait a bounded time for every job to end."""
        if self._current is not None:
            self._current.ctx.cancel()
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


def _json_value(result: object) -> JSONValue:
    """The result as JSON holds it (tuples become lists), or a ``bad_result`` failure."""
    try:
        value: JSONValue = json.loads(json.dumps(result, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        message = f"the job returned {type(result).__name__}, not a JSON value: {exc}"
        raise _JobFailedError(TaskError("bad_result", message)) from None
    return value
