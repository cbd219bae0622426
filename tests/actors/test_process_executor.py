"""The process executor inside the actor system: user task types run in the pool."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest
from support import current, gone, submit_typed, watch

from taskmanager.actors.clock import SystemClock
from taskmanager.actors.messages import CancelTask, WatchTask
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.system import ActorSystem

pytestmark = pytest.mark.backends("memory", "redis")

TASKS = "taskmanager.demo,jobmodules.usertypes,jobmodules.processtypes"


@pytest.fixture
async def system(make_settings) -> AsyncIterator[ActorSystem]:
    actors = ActorSystem(make_settings(tasks=TASKS, workers=1), SystemClock())
    watch(actors.actors)
    await actors.start()
    yield actors
    await actors.stop()


async def finished(system: ActorSystem, task: Task) -> Task:
    async with asyncio.timeout(20):
        while True:
            seen = await current(system, task)
            if seen.status in {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}:
                return seen
            future = await system.store.ask(WatchTask(task.task_id, seen.status))
            await future


async def test_a_process_job_completes_with_its_progress(system):
    done = await finished(system, await submit_typed(system, "count", {"up_to": 20_000}))
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 200_010_000
    assert done.progress == 1.0


@pytest.mark.serial
async def test_a_cancelled_process_job_loses_its_process_within_a_second(system, tmp_path):
    pid_file = tmp_path / "pid"
    task = await submit_typed(system, "spin", {"path": str(pid_file)})
    async with asyncio.timeout(20):
        while (await current(system, task)).progress < 0.5:
            future = await system.store.ask(WatchTask(task.task_id, TaskStatus.QUEUED))
            await asyncio.wait({future}, timeout=0.05)
    pid = int(pid_file.read_text())
    started = time.monotonic()
    await system.store.ask(CancelTask(task.task_id))
    while not gone(pid):
        assert time.monotonic() - started < 1, "the job's process outlived the cancel"
        await asyncio.sleep(0.01)
    assert (await current(system, task)).status is TaskStatus.CANCELLED


@pytest.mark.parametrize(
    ("how", "status", "error_type", "attempts"),
    [
        ("exit", TaskStatus.COMPLETED, None, 2),  # crash: retried
        ("connection", TaskStatus.COMPLETED, None, 2),  # in retry_on: retried
        ("key", TaskStatus.FAILED, "key_error", 1),
        ("set", TaskStatus.FAILED, "bad_result", 1),
    ],
)
async def test_process_job_failures_are_named_and_retried_as_a_thread_jobs_are(
    system, how, status, error_type, attempts
):
    done = await finished(system, await submit_typed(system, "breaks", {"how": how}, max_retries=1))
    assert done.status is status, done.error
    assert done.attempts == attempts
    if error_type is not None:
        assert done.error.type == error_type
    else:
        assert done.result["pid"] != os.getpid()


async def test_a_process_job_reads_its_dependencies_results(system):
    first = await submit_typed(system, "count", {"up_to": 10})
    second = await submit_typed(system, "repeat", {"text": "x", "times": 2})
    gathered = await submit_typed(
        system, "gather_in_process", {}, depends_on=(first.task_id, second.task_id)
    )
    done = await finished(system, gathered)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result == {str(first.task_id): 55, str(second.task_id): ["x", "x"]}
