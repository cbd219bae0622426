"""Jobs of the user's own task types: executors, progress, cancels, timeouts and outcomes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from jobmodules import usertypes
from support import FakeClock, current, settle, submit_typed, watch

from taskmanager.actors.messages import (
    CancelTask,
    GetDispatcherStatus,
    WatchTask,
)
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.system import ActorSystem

pytestmark = pytest.mark.backends("memory", "redis")

USER_TASKS = "taskmanager.demo,jobmodules.usertypes"


@pytest.fixture
async def system(clock: FakeClock, make_settings) -> AsyncIterator[ActorSystem]:
    """One worker, the demo types and the user's types of ``jobmodules.usertypes``."""
    actors = ActorSystem(make_settings(tasks=USER_TASKS, workers=1), clock)
    watch(actors.actors)
    await actors.start()
    yield actors
    await actors.stop()


@pytest.fixture
def gate() -> str:
    """A gate of this test's own for a thread job; opened at the end, whatever happened."""
    name = uuid.uuid4().hex
    yield name
    usertypes.GATES[name].set()


async def changed(system: ActorSystem, task: Task, seen: TaskStatus) -> Task:
    """The task once its status is no longer ``seen`` (waits on the store's notification)."""
    future = await system.store.ask(WatchTask(task.task_id, seen))
    async with asyncio.timeout(10):
        found = await future
    assert found is not None
    return found


async def reached(name: str) -> None:
    """Wait (in a thread) until the gated job has reported progress and waits at its gate."""
    assert await asyncio.to_thread(usertypes.REACHED[name].wait, 10)
    await settle()


async def test_a_thread_job_runs_in_a_thread_reports_progress_and_completes(system, gate):
    task = await submit_typed(system, "gated", {"name": gate, "progress": 0.25})
    await reached(gate)
    running = await current(system, task)
    assert running.status is TaskStatus.PROCESSING
    assert running.progress == 0.25
    usertypes.GATES[gate].set()
    done = await changed(system, running, TaskStatus.PROCESSING)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == "done on attempt 1"
    assert usertypes.SAW_CANCELLED[gate] is False


async def test_a_cancelled_thread_job_is_cancelled_at_once_and_holds_its_worker_until_it_returns(
    system, gate
):
    job = await submit_typed(system, "gated", {"name": gate, "word": "late"})
    await reached(gate)
    cancelled = await system.store.ask(CancelTask(job.task_id))
    assert cancelled.status is TaskStatus.CANCELLED

    # The thread cannot be stopped: the only worker stays busy, the next task waits.
    waiting = await submit_typed(system, "compute_sum", {"numbers": [1, 2]})
    await settle()
    assert (await current(system, waiting)).status is TaskStatus.QUEUED
    assert (await system.dispatcher.ask(GetDispatcherStatus())).busy == 1

    usertypes.GATES[gate].set()
    started = await changed(system, waiting, TaskStatus.QUEUED)
    assert started.status is TaskStatus.PROCESSING
    assert usertypes.SAW_CANCELLED[gate] is True
    # The late result is dropped: the task stays cancelled, with no result.
    await settle()
    late = await current(system, job)
    assert late.status is TaskStatus.CANCELLED
    assert late.result is None


async def test_a_thread_job_past_its_timeout_fails_at_once_and_its_result_is_dropped(
    system, clock: FakeClock, gate
):
    job = await submit_typed(system, "gated", {"name": gate}, timeout=2)
    await reached(gate)
    await clock.advance(2)
    timed_out = await changed(system, job, TaskStatus.PROCESSING)
    assert timed_out.status is TaskStatus.FAILED
    assert timed_out.error is not None
    assert timed_out.error.type == "timeout"

    waiting = await submit_typed(system, "compute_sum", {"numbers": [1]})
    await settle()
    assert (await current(system, waiting)).status is TaskStatus.QUEUED

    usertypes.GATES[gate].set()
    await changed(system, waiting, TaskStatus.QUEUED)
    assert usertypes.SAW_CANCELLED[gate] is True
    late = await current(system, job)
    assert late.status is TaskStatus.FAILED
    assert late.result is None


@pytest.mark.parametrize(
    ("error", "error_type", "message"),
    [
        ("key", "key_error", "'missing'"),
        ("value", "value_error", "bad value"),
        ("http", "http_status_error", "418"),
    ],
)
async def test_an_exception_fails_the_task_as_its_class_name_and_is_not_retried(
    system, error, error_type, message
):
    task = await submit_typed(system, "flaky", {"error": error}, max_retries=3)
    await settle()
    failed = await current(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert (failed.error.type, failed.error.message) == (error_type, message)
    assert failed.attempts == 1


async def test_an_exception_in_retry_on_is_retried_and_the_next_attempt_knows_its_number(
    system, clock: FakeClock
):
    task = await submit_typed(system, "flaky", {"error": "connection"}, max_retries=1)
    await settle()
    retrying = await current(system, task)
    assert retrying.status is TaskStatus.QUEUED
    assert retrying.error is not None
    assert retrying.error.type == "connection_error"
    await clock.advance(2)  # past the backoff
    await settle()
    done = await current(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == "worked on attempt 2"
    assert done.attempts == 2


async def test_an_exception_in_retry_on_fails_once_no_retry_is_left(system):
    task = await submit_typed(system, "flaky", {"error": "connection"})
    await settle()
    failed = await current(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "connection_error"


async def test_a_result_json_cannot_hold_fails_the_task_as_bad_result(system):
    task = await submit_typed(system, "not_json", {}, max_retries=2)
    await settle()
    failed = await current(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "bad_result"
    assert "set" in failed.error.message
    assert failed.attempts == 1


async def test_an_async_job_gets_its_parameters_as_its_model(system):
    task = await submit_typed(system, "repeat", {"text": "ab", "times": 2, "tags": ["x"]})
    await settle()
    done = await current(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == ["ab", "ab", "x"]


async def test_a_process_job_completes_in_the_process_pool_the_system_makes(system):
    task = await submit_typed(system, "count", {"up_to": 10_000})
    done = await changed(system, task, TaskStatus.QUEUED)
    if done.status is TaskStatus.PROCESSING:
        done = await changed(system, done, TaskStatus.PROCESSING)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 50_005_000


class RecordingRunner:
    """A process runner that runs the job here and remembers what it was given.

    A job of more than 5,000 fails the first time, as a process runner reports an
    exception raised in the job's process: a stand-in named like it, marked retryable.
    """

    def __init__(self) -> None:
        self.ran: list[tuple[str, object]] = []
        self.closed = False

    async def run(self, spec, params, ctx):
        self.ran.append((spec.name, params))
        if params.up_to > 5000 and ctx.attempt == 1:
            stand_in = type("ConnectionError", (Exception,), {"retryable": True})
            raise stand_in("the peer went away, in the job's process")
        return spec.function(params, ctx)

    async def close(self) -> None:
        self.closed = True


async def test_a_process_job_goes_to_the_process_runner_the_system_is_given(
    clock: FakeClock, make_settings
):
    runner = RecordingRunner()
    actors = ActorSystem(make_settings(tasks=USER_TASKS, workers=1), clock, processes=runner)
    watch(actors.actors)
    await actors.start()
    try:
        task = await submit_typed(actors, "count", {"up_to": 2000})
        await settle()
        done = await current(actors, task)
        assert done.status is TaskStatus.COMPLETED
        assert done.result == 2_001_000
        assert done.progress == 1.0
        assert [(name, params.up_to) for name, params in runner.ran] == [("count", 2000)]
        retried = await submit_typed(actors, "count", {"up_to": 6000}, max_retries=1)
        await settle()
        first = await current(actors, retried)
        assert first.status is TaskStatus.QUEUED
        assert first.error is not None
        assert first.error.type == "connection_error"
        await clock.advance(2)  # past the backoff
        await settle()
        assert (await current(actors, retried)).result == 18_003_000
    finally:
        await actors.stop()
    assert runner.closed


STOP_WITH_A_STUCK_THREAD = """
import asyncio
from jobmodules import usertypes
from taskmanager.actors.messages import SubmitTask
from taskmanager.actors.model import JobOptions, ParametersObject
from taskmanager.actors.system import ActorSystem
from taskmanager.config import Settings

async def main():
    system = ActorSystem(Settings(tasks="jobmodules.usertypes", shutdown_grace=0))
    await system.start()
    params = system.task_types["gated"].parameters(name="never")
    await system.store.ask(SubmitTask("gated", ParametersObject.of(params), JobOptions()))
    await asyncio.to_thread(usertypes.REACHED["never"].wait, 10)
    await system.shutdown()
    print("stopped", flush=True)

asyncio.run(main())
"""


def test_a_thread_job_that_never_returns_does_not_keep_the_process_from_exiting():
    # The gated job waits 30 s for a gate nobody opens; the process must not wait for it.
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", STOP_WITH_A_STUCK_THREAD],
        env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopped"
