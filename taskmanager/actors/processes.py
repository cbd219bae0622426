"""The ``process`` executor: CPU-bound jobs in child processes the pool owns one by one.

A ``ProcessPoolExecutor`` cannot lose one process: killing a job's process breaks the
whole executor and fails every pending future. So each slot of this pool owns a single
child (spawn start method, started on first use and reused for the next job) and talks to
it over a pipe that the parent reads with the event loop's ``add_reader``. Cancelling the
coroutine that awaits a job kills that job's process, and only it; the slot starts a new
child at once, so the next job does not wait for an interpreter to boot.

The parent never blocks its event loop: it reads only when the pipe is readable, and
waits for a process to end on the process's sentinel.

The job a slot runs is named by ``(module, attribute)``, imported in the child. What the
child reads from that object (the job protocol):

- it is called as ``job(parameters, context)``, an ``async def`` under ``asyncio.run``;
- ``@task_type`` leaves the type's description on it as ``__task_type__``: its
  ``parameters`` model validates the ``params`` dict the parent sends, and an exception
  that is an instance of a class in its ``retry_on`` fails the attempt as retryable;
- a function without that description is read the same way from its own annotations
  (the first parameter's, looking through ``functools.wraps``) and a ``retry_on``
  attribute, if it has one.

``ProcessPoolRunner`` puts the pool behind the workers' ``process`` executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import typing
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from uuid import UUID

logger = logging.getLogger(__name__)

type JSONValue = str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None
type ProgressCallback = Callable[[float], None]

#: Least time between two progress messages from a child: a job may call ``progress``
#: in a tight loop, and each message costs the parent a read.
PROGRESS_INTERVAL: Final = 0.02
#: How often a child checks that its parent still lives while a job runs (between jobs
#: the closed pipe tells it).
PARENT_CHECK_INTERVAL: Final = 0.5
#: How long a cancelled job's process has to end after SIGTERM before it gets SIGKILL.
TERM_GRACE: Final = 0.2
#: How long to wait for a process to vanish after SIGKILL (the kernel needs milliseconds).
KILL_WAIT: Final = 1.0
#: How much lower than the service's a job process's CPU priority is (``nice``).
JOB_NICENESS: Final = 10
#: Requests up to this size are written at once: any pipe buffers that much.
INLINE_SEND_BYTES: Final = 16 * 1024
#: Checks, a millisecond apart, that a process whose sentinel closed can be reaped.
REAP_POLLS: Final = 100
#: Where ``@task_type`` (``taskmanager.jobs``) leaves its description on the function.
TASK_TYPE_ATTRIBUTE: Final = "__task_type__"
#: What a job's process is called in ``ps -o comm``, ``top`` and ``pgrep``.
PROCESS_NAME: Final = "taskmanager-job"
#: How long ``close`` lets an idle child end on its own once its pipe is closed.
CLOSE_GRACE: Final = 0.5


# Messages between parent and child. They are pickled, so they are plain and small; the
# child is spawned, so it imports this module by name to read them.


@dataclass(frozen=True, slots=True)
class _Run:
    job: int
    module: str
    attribute: str
    params: dict[str, Any]
    task_id: str
    attempt: int
    logger: str
    dependencies: dict[str, JSONValue]


@dataclass(frozen=True, slots=True)
class _Progress:
    job: int
    fraction: float


@dataclass(frozen=True, slots=True)
class _Returned:
    job: int
    result: str  # the result as JSON text: the child checked it is JSON


@dataclass(frozen=True, slots=True)
class _Raised:
    job: int
    class_name: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class _BadResult:
    job: int
    message: str


type _Outcome = _Returned | _Raised | _BadResult


class ProcessJobError(Exception):
    """The job failed in its process.

    ``kind`` says how: ``raised`` (the job raised ``class_name``), ``crash`` (the process
    died: a segfault, ``os._exit``, the out-of-memory killer; always retryable) or
    ``bad_result`` (what it returned is not JSON; never retryable).
    """

    def __init__(
        self,
        kind: Literal["raised", "crash", "bad_result"],
        message: str,
        *,
        class_name: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.class_name = class_name
        self.retryable = retryable

    @property
    def error_type(self) -> str:
        """The raised exception's class name, or ``crash`` / ``bad_result``."""
        return self.class_name if self.class_name is not None else self.kind

    def as_raised(self) -> ProcessJobError:
        """This failure as an exception whose class is named like the job's exception.

        So what names an exception by its class (``error.type`` is its class name in
        snake_case) names this one as if the job had raised in this process: ``KeyError``,
        or ``Crash`` and ``BadResult`` for the pool's own verdicts.
        """
        name = self.class_name or _VERDICT_CLASSES[self.kind]
        stand_in: type[ProcessJobError] = type(name, (ProcessJobError,), {"__module__": __name__})
        return stand_in(
            self.kind, self.message, class_name=self.class_name, retryable=self.retryable
        )


_VERDICT_CLASSES: Final = {"crash": "Crash", "bad_result": "BadResult", "raised": "JobError"}


class PoolClosedError(Exception):
    """The pool was closed: it runs no more jobs."""


# --- The child's side ---------------------------------------------------------------


class _Sender:
    """The child's end of the pipe, shared by the job's thread and the progress thread."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        with self._lock:
            self._conn.send(message)


class _ProgressReporter:
    """Sends the latest progress at most every ``PROGRESS_INTERVAL``, from its own thread.

    ``progress`` only stores a number and sets an event, so a job may call it as often as
    it likes; the last value is always sent, at most ``PROGRESS_INTERVAL`` late. The same
    thread ends the child if its parent dies while a job runs, so that no process
    outlives the service, even one killed with SIGKILL.
    """

    def __init__(self, sender: _Sender, parent: int) -> None:
        self._sender = sender
        self._parent = parent
        self._latest: tuple[int, float] | None = None
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._send_loop, name="progress", daemon=True)
        self._thread.start()

    def progress(self, job: int, fraction: float) -> None:
        self._latest = (job, fraction)
        if not self._wake.is_set():  # a plain read: setting it takes a lock
            self._wake.set()

    def flush(self) -> None:
        """Send the progress not sent yet, before the job's outcome goes."""
        latest, self._latest = self._latest, None
        if latest is not None:
            self._sender.send(_Progress(*latest))

    def _send_loop(self) -> None:
        while True:
            woke = self._wake.wait(PARENT_CHECK_INTERVAL)
            if os.getppid() != self._parent:
                os._exit(1)  # orphaned: the parent no longer waits for anything we do
            if not woke:
                continue
            self._wake.clear()
            latest, self._latest = self._latest, None
            if latest is not None:
                try:
                    self._sender.send(_Progress(*latest))
                except OSError:
                    os._exit(1)  # the parent closed the pipe
                time.sleep(PROGRESS_INTERVAL)


class ProcessContext:
    """What a job running in a process is given: its task, attempt, progress and logger.

    ``cancelled`` is always false: a cancelled process job is killed, not told.
    """

    __slots__ = ("_job", "_reporter", "attempt", "dependencies", "logger", "task_id")

    def __init__(  # noqa: PLR0913 - what a job sees, by name
        self,
        reporter: _ProgressReporter,
        job: int,
        task_id: str,
        attempt: int,
        name: str,
        *,
        dependencies: dict[str, JSONValue],
    ) -> None:
        self._reporter = reporter
        self._job = job
        #: The task's id: a UUID, as in the other executors (a plain string if it is none).
        self.task_id = _uuid_or_str(task_id)
        self.attempt = attempt
        self.logger = logging.getLogger(name)
        #: The results of the tasks this one depends on, by task id.
        self.dependencies: dict[UUID | str, JSONValue] = {
            _uuid_or_str(key): value for key, value in dependencies.items()
        }

    @property
    def cancelled(self) -> bool:
        """Never true here: a cancel or a timeout kills the process instead."""
        return False

    def progress(self, fraction: float) -> None:
        """Report how far the job is, 0.0 to 1.0 (values outside are clamped)."""
        if math.isnan(fraction):
            return
        self._reporter.progress(self._job, min(1.0, max(0.0, float(fraction))))


@dataclass(frozen=True, slots=True)
class _Job:
    call: Callable[..., Any]
    validate: Callable[[dict[str, Any]], Any]
    retry_on: tuple[type[BaseException], ...]


def _uuid_or_str(text: str) -> UUID | str:
    try:
        return UUID(text)
    except ValueError:
        return text


def _load_job(module: str, attribute: str) -> _Job:
    """Import the job and read the job protocol from it (see the module's docstring)."""
    from pydantic import TypeAdapter  # noqa: PLC0415 - only children need it here

    call = getattr(importlib.import_module(module), attribute)
    declared = getattr(call, TASK_TYPE_ATTRIBUTE, None)
    model = getattr(declared, "parameters", None)
    if model is None:
        function = inspect.unwrap(call)
        parameters = list(inspect.signature(function).parameters)
        if not parameters:
            raise TypeError(f"{module}.{attribute} takes no parameters")
        model = typing.get_type_hints(function).get(parameters[0])
        if model is None:
            raise TypeError(f"{module}.{attribute}: its first parameter has no annotation")
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    declared_retry_on: Iterable[type[BaseException]] = (
        getattr(declared, "retry_on", None) or getattr(call, "retry_on", None) or ()
    )
    retry_on = tuple(declared_retry_on)
    return _Job(call, adapter.validate_python, retry_on)


def _run_job(
    request: _Run, reporter: _ProgressReporter, jobs: dict[tuple[str, str], _Job]
) -> _Outcome:
    """Run one job and say how it went; nothing it raises escapes."""
    job_id = request.job
    retry_on: tuple[type[BaseException], ...] = ()
    try:
        key = (request.module, request.attribute)
        job = jobs.get(key)
        if job is None:
            job = jobs[key] = _load_job(*key)
        retry_on = job.retry_on
        context = ProcessContext(
            reporter,
            job_id,
            request.task_id,
            request.attempt,
            request.logger,
            dependencies=request.dependencies,
        )
        params = job.validate(request.params)
        result = job.call(params, context)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except Exception as exc:  # noqa: BLE001 - every failure of a job goes back to the parent
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a broken __str__ must not take the child down
            message = repr(type(exc))
        return _Raised(job_id, type(exc).__name__, message, isinstance(exc, retry_on))
    try:
        return _Returned(job_id, json.dumps(result, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        return _BadResult(job_id, f"the result is not a JSON value: {exc}")


async def _awaited(awaitable: typing.Awaitable[Any]) -> Any:  # noqa: ANN401 - any job result
    return await awaitable


def _child_main(conn: Connection) -> None:
    """A child's life: run the jobs the parent sends, one at a time, until the pipe closes."""
    # Ctrl-C reaches the whole process group; the parent decides what a job's fate is.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A CPU-bound job must not starve the service's own process of a core: with every
    # core computing, the scheduler then still runs the API at once.
    os.nice(JOB_NICENESS)
    # Spawned children all read "python" in ps, top and pgrep, like every other pool on the
    # machine; Linux lets a process rename itself (at most 15 bytes). Elsewhere: no name.
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(PROCESS_NAME)
    # A job's logger is under "taskmanager.jobs", which the server logs at INFO: so here.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    service = logging.getLogger("taskmanager")
    service.addHandler(handler)
    service.setLevel(logging.INFO)
    service.propagate = False
    sender = _Sender(conn)
    reporter = _ProgressReporter(sender, os.getppid())
    jobs: dict[tuple[str, str], _Job] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        outcome = _run_job(request, reporter, jobs)
        try:
            reporter.flush()
            sender.send(outcome)
        except OSError:
            return


# --- The parent's side --------------------------------------------------------------


async def _process_ended(process: BaseProcess, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``process`` to end, on its sentinel: no polling."""
    if process.exitcode is not None:
        return True
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def on_ready() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(process.sentinel, on_ready)
    try:
        await asyncio.wait_for(ended, timeout)
    except TimeoutError:
        return process.exitcode is not None
    finally:
        loop.remove_reader(process.sentinel)
    # The sentinel closes as the process exits, a moment before it can be reaped.
    for _ in range(REAP_POLLS):
        if process.exitcode is not None:
            return True
        await asyncio.sleep(0.001)
    return process.exitcode is not None


async def _despite_cancel[T](work: Coroutine[Any, Any, T]) -> T:
    """Run bounded clean-up to its end even if the caller is cancelled, then re-raise that."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done() and task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


async def _send(conn: Connection, request: _Run) -> None:
    """Send a job to its child without blocking the loop on a full pipe.

    A child still starting reads nothing for a few hundred milliseconds: large
    parameters would wait in ``send`` that long. Those go from a thread, which the
    write ends when the child reads them, or when it dies (a cancel kills it).
    """
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        if len(payload) <= INLINE_SEND_BYTES:
            conn.send_bytes(payload)
        else:
            await asyncio.to_thread(conn.send_bytes, payload)
    except OSError:
        pass  # it died already: the reader sees its closed pipe at once


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "its pipe closed"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.SpawnContext, name: str) -> None:
        parent_end, child_end = context.Pipe(duplex=True)
        self.conn: Connection = parent_end
        self.fileno = parent_end.fileno()
        self.process: BaseProcess = context.Process(
            target=_child_main, args=(child_end,), name=name, daemon=True
        )
        self.process.start()
        self.pid = self.process.pid
        # Only the child holds its end now: when the child dies, the parent reads EOF.
        child_end.close()
        self._released = False
        #: How it ended, once reaped.
        self.exitcode: int | None = None

    @property
    def alive(self) -> bool:
        return not self._released and self.process.is_alive()

    async def ended(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the process to end on its own."""
        return self._released or await _process_ended(self.process, timeout)

    async def kill(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within ``TERM_GRACE``; then reap it."""
        if not self._released and self.process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            if not await _process_ended(self.process, TERM_GRACE):
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await _process_ended(self.process, KILL_WAIT)
        self.release()

    async def close(self) -> None:
        """Let an idle child end on its own (its pipe closes); kill it if it does not."""
        self.conn.close()
        if not self._released and not await _process_ended(self.process, CLOSE_GRACE):
            await self.kill()
        self.release()

    def release(self) -> None:
        """Reap the process and let go of its pipe and sentinel; once."""
        self.conn.close()
        if self._released or self.process.exitcode is None:
            return  # still alive after SIGKILL: leave it to multiprocessing rather than block
        self._released = True
        self.process.join()
        self.exitcode = self.process.exitcode
        self.process.close()


class ProcessSlot:
    """One place in the pool: one child at a time, one job at a time."""

    def __init__(self, context: multiprocessing.context.SpawnContext, name: str) -> None:
        self._context = context
        self.name = name
        self._child: _Child | None = None
        self._jobs = 0
        self._running: tuple[_Child, asyncio.Future[_Outcome | None]] | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The pid of the child this slot holds now, if it holds one."""
        return self._child.pid if self._child is not None else None

    def _live_child(self) -> _Child:
        child = self._child
        if child is not None and child.alive:
            return child
        if child is not None:  # died between jobs
            child.release()
        self._child = _Child(self._context, self.name)
        return self._child

    def start(self) -> None:
        """Start the child now rather than at the first job."""
        self._live_child()

    async def run(  # noqa: PLR0913 - the job's whole description, by name
        self,
        target: tuple[str, str],
        params: dict[str, Any],
        task_id: str,
        attempt: int,
        on_progress: ProgressCallback,
        *,
        logger_name: str | None = None,
        dependencies: Mapping[str, JSONValue] | None = None,
    ) -> JSONValue:
        """Run the job in this slot's child; see ``ProcessPool.run``."""
        if self._closed:
            raise PoolClosedError("the process pool is closed")
        child = self._live_child()
        self._jobs += 1
        job = self._jobs
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[_Outcome | None] = loop.create_future()

        def on_readable() -> None:
            try:
                while not outcome.done() and child.conn.poll():
                    message = child.conn.recv()
                    match message:
                        case _Progress(job=number, fraction=fraction) if number == job:
                            try:
                                on_progress(fraction)
                            except Exception:
                                logger.exception("%s: a progress report failed", self.name)
                        case _Returned() | _Raised() | _BadResult() if message.job == job:
                            outcome.set_result(message)
            except (EOFError, OSError):
                if not outcome.done():
                    outcome.set_result(None)  # the child died

        request = _Run(
            job,
            *target,
            params,
            task_id,
            attempt,
            logger_name or target[0],
            dict(dependencies or {}),
        )
        loop.add_reader(child.fileno, on_readable)
        self._running = (child, outcome)
        try:
            await _send(child.conn, request)
            message = await outcome
        except BaseException:  # cancelled: the job's process goes, and only it
            await _despite_cancel(self._end_job(child, replace=True))
            raise
        match message:
            case _Returned(result=text):
                await self._end_job(child, replace=False)
                return typing.cast("JSONValue", json.loads(text))
            case _Raised(class_name=class_name, message=text, retryable=retryable):
                await self._end_job(child, replace=False)
                raise ProcessJobError("raised", text, class_name=class_name, retryable=retryable)
            case _BadResult(message=text):
                await self._end_job(child, replace=False)
                raise ProcessJobError("bad_result", text)
            case _:
                # Its pipe closed as it exited: let it finish, so that its status is its own.
                await _despite_cancel(child.ended(TERM_GRACE))
                await _despite_cancel(self._end_job(child, replace=True))
                if self._closed:
                    raise PoolClosedError("the process pool closed while the job ran")
                raise ProcessJobError(
                    "crash",
                    f"the job's process died ({_describe_exit(child.exitcode)})",
                    retryable=True,
                )

    async def _end_job(self, child: _Child, *, replace: bool) -> None:
        """Stop watching ``child``; with ``replace``, kill it and start its successor."""
        asyncio.get_running_loop().remove_reader(child.fileno)
        self._running = None
        if not replace:
            return
        if self._child is child:
            self._child = None
        await child.kill()
        logger.info("%s: job process %s ended; the pool replaces it", self.name, child.pid)
        if self._child is None and not self._closed:
            self._child = _Child(self._context, self.name)

    async def close(self) -> None:
        """End this slot's child, if it has one; a job still running is killed."""
        self._closed = True
        if self._running is not None:
            running, outcome = self._running
            asyncio.get_running_loop().remove_reader(running.fileno)
            await running.kill()
            if not outcome.done():
                outcome.set_result(None)
        idle, self._child = self._child, None
        if idle is not None:
            await idle.close()


class ProcessPool:
    """At most ``size`` child processes, each running one job at a time.

    The pool is used from one event loop at a time, but is not bound to one: a slot's
    pipe is watched only while a job runs in it.
    """

    def __init__(self, size: int, *, name: str = "taskmanager-job") -> None:
        if size < 1:
            raise ValueError("a process pool needs at least one slot")
        context = multiprocessing.get_context("spawn")
        self.size = size
        self._slots = [ProcessSlot(context, f"{name}-{index}") for index in range(size)]
        # Most recently used last: the next job gets a slot whose child already runs.
        self._idle: list[ProcessSlot] = list(reversed(self._slots))
        self._waiters: deque[asyncio.Future[ProcessSlot]] = deque()
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """The pids of the children alive or starting now."""
        return [slot.pid for slot in self._slots if slot.pid is not None]

    def start(self) -> None:
        """Start every child now, rather than each at its first job."""
        for slot in self._slots:
            slot.start()

    async def run(  # noqa: PLR0913 - the job's whole description, by name
        self,
        target: tuple[str, str],
        params: dict[str, Any],
        task_id: object,
        attempt: int,
        on_progress: ProgressCallback,
        *,
        logger_name: str | None = None,
        dependencies: Mapping[UUID, JSONValue] | None = None,
    ) -> JSONValue:
        """Run ``module.attribute(params, context)`` in a child process; return its result.

        Waits for a free slot when all ``size`` are busy. Raises ``ProcessJobError`` when
        the job fails; cancelling this coroutine kills the job's process (SIGTERM, SIGKILL
        after ``TERM_GRACE``), waits until it is gone, then re-raises. ``on_progress`` is
        called on this loop with each fraction the job reports. The job's ``ctx.logger``
        is named ``logger_name`` (default: the job's module), and its ``ctx.dependencies``
        holds ``dependencies`` (keyed by task id).
        """
        slot = await self._acquire()
        try:
            return await slot.run(
                target,
                params,
                str(task_id),
                attempt,
                on_progress,
                logger_name=logger_name,
                dependencies={str(key): value for key, value in (dependencies or {}).items()},
            )
        finally:
            self._release(slot)

    async def _acquire(self) -> ProcessSlot:
        if self._closed:
            raise PoolClosedError("the process pool is closed")
        if self._idle:
            return self._idle.pop()
        waiter: asyncio.Future[ProcessSlot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over just as we were cancelled
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _release(self, slot: ProcessSlot) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)

    async def close(self) -> None:
        """End every child: idle ones when their pipe closes, the rest killed; then reap.

        Bounded: ``CLOSE_GRACE`` + ``TERM_GRACE`` + ``KILL_WAIT`` at most. Jobs still
        running are killed and fail as ``crash``; the pool runs no job after this.
        """
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the process pool is closed"))
        await asyncio.gather(*(slot.close() for slot in self._slots))


class _TaskType(Protocol):
    """What the runner reads of a task type (``taskmanager.jobs.TaskTypeSpec``)."""

    @property
    def name(self) -> str: ...

    @property
    def function(self) -> Callable[..., Any]: ...


class _Parameters(Protocol):
    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class _JobContext(Protocol):
    @property
    def task_id(self) -> object: ...

    @property
    def attempt(self) -> int: ...

    @property
    def dependencies(self) -> Mapping[UUID, JSONValue]: ...

    def progress(self, fraction: float) -> None: ...


class ProcessPoolRunner:
    """The workers' ``process`` executor: runs a task type's function in the pool.

    The function is imported in the child by its module and name, so it must be
    reachable as ``module.name`` (a module-level ``def``). Its parameters travel as JSON
    and are validated again there. A job that raised comes back as ``as_raised`` says,
    with ``retryable`` telling whether its class is in the type's ``retry_on``; a process
    that died raises ``Crash`` (retryable), a result that is not JSON ``BadResult``.
    """

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool

    async def run(self, spec: _TaskType, params: _Parameters, ctx: _JobContext) -> JSONValue:
        """Run ``spec.function(params, ctx)`` in a child process and return its result."""
        function = spec.function
        try:
            return await self.pool.run(
                (function.__module__, function.__name__),
                params.model_dump(mode="json"),
                ctx.task_id,
                ctx.attempt,
                ctx.progress,
                logger_name=f"taskmanager.jobs.{spec.name}",
                dependencies=ctx.dependencies,
            )
        except ProcessJobError as error:
            raise error.as_raised() from None

    async def close(self) -> None:
        """End every child process."""
        await self.pool.close()
