"""Where a job's code runs besides the worker's own event loop.

The ``async`` executor awaits the job on the worker's loop; ``thread`` jobs run in the
actor system's thread pool. ``process`` jobs go to a ``ProcessRunner`` given to the
workers; without one they run in the thread pool too, with the thread executor's rules.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from taskmanager.jobs import Context, JSONValue, TaskTypeSpec


class ProcessRunner(Protocol):
    """Runs ``process`` jobs in processes of its own.

    ``run`` returns the job's return value or raises its exception. Cancelling the
    awaiting task (a cancel or a timeout) must stop the job's process; a process that
    dies must raise an exception whose snake_case name is ``crash``.
    """

    async def run(self, spec: TaskTypeSpec, params: BaseModel, ctx: Context) -> JSONValue:
        """Run ``spec.function(params, ctx)`` in a process and return its result."""
        ...

    async def close(self) -> None:
        """Stop every process; called once, when the actor system stops."""
        ...
