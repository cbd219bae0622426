"""Where a job's code runs besides the worker's own event loop.

The ``async`` executor awaits the job on the worker's loop; ``thread`` jobs run in threads
of their own. ``process`` jobs go to a ``ProcessRunner`` given to the
workers; without one they run in a thread too, with the thread executor's rules.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel

from taskmanager.jobs import Context, JSONValue, TaskTypeSpec


class ProcessRunner(Protocol):
    """Runs ``process`` jobs in processes of its own.

    ``run`` returns the job's return value or raises its exception, or a stand-in named
    like it (``error.type`` is the class name in snake_case) with ``retryable = True``
    when the class is in the type's ``retry_on``. Cancelling the awaiting task (a cancel
    or a timeout) must stop the job's process; a process that dies must raise an
    exception whose snake_case name is ``crash``.
    """

    async def run(self, spec: TaskTypeSpec, params: BaseModel, ctx: Context) -> JSONValue:
        """Run ``spec.function(params, ctx)`` in a process and return its result."""
        ...

    async def close(self) -> None:
        """Stop every process; called once, when the actor system stops."""
        ...


class JobThreads:
    """Runs each ``thread`` job in a daemon thread of its own.

    Not a ``ThreadPoolExecutor``: its threads are joined when the interpreter exits, so
    one job that never returns would keep a stopped service from ever exiting. How many
    run at once is bounded by the workers, each of which waits for its job's thread.
    """

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def submit(
        self, function: Callable[[BaseModel, Context], object], params: BaseModel, ctx: Context
    ) -> concurrent.futures.Future[object]:
        """Start ``function(params, ctx)`` in a new thread; the future holds its outcome."""
        future: concurrent.futures.Future[object] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = function(params, ctx)
            except Exception as error:  # noqa: BLE001 - the job's failure is its outcome
                future.set_exception(error)
            except BaseException as error:  # noqa: BLE001 - SystemExit must not end the service
                future.set_exception(JobExitError(f"the job raised {type(error).__name__}"))
            else:
                future.set_result(result)

        name = f"job-{next(self._numbers)}:{ctx.task_id}"
        threading.Thread(target=run, name=name, daemon=True).start()
        return future


class JobExitError(Exception):
    """A thread job raised ``SystemExit`` or ``KeyboardInterrupt``: it failed, nothing more."""
