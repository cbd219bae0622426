"""Fault injection: crashing workers and actors, and jobs that ignore cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import types

import pytest
from support import REPORT, FakeClock, settle, submit, sum_of

from taskmanager.actors import Kill, runtime
from taskmanager.actors import worker as worker_module
from taskmanager.actors.messages import GetDispatcherStatus
from taskmanager.config import DEFAULT_TASKS
from taskmanager.jobs import TaskTypes, load_task_types

DEMO = load_task_types(DEFAULT_TASKS)


async def status_of(client, task_id: str) -> str:
    return (await client.get(f"/tasks/{task_id}")).json()["status"]


async def test_a_worker_that_crashes_mid_task_fails_the_task_and_comes_back(
    client, clock: FakeClock
):
    system = client.app.state.system
    task_id = await submit(client, REPORT)
    await clock.advance(5)  # one section of two done: the task is mid-run
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert (task["status"], task["progress"]) == ("processing", 0.5)
    busy = [worker for worker in system.workers if worker._current is not None]
    assert len(busy) == 1

    busy[0].tell(Kill())
    await settle()

    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "failed"
    assert task["error"]["type"] == "worker_lost"
    assert "crashed" in task["error"]["message"]
    assert task["finished_at"] is not None
    assert busy[0].alive
    assert system.supervisor.crash_count == 1
    # The pool is back to its size: five new tasks run at once, and all complete.
    ids = [await submit(client, sum_of(index)) for index in range(5)]
    await settle()
    assert [await status_of(client, each) for each in ids] == ["processing"] * 5
    status = await system.dispatcher.ask(GetDispatcherStatus())
    assert (status.busy, status.queued, status.workers) == (5, 0, 5)
    await clock.advance(5)
    assert [await status_of(client, each) for each in ids] == ["completed"] * 5
    # The late end of the crashed task's job never overwrites its failure.
    assert (await client.get(f"/tasks/{task_id}")).json()["error"]["type"] == "worker_lost"


async def test_an_idle_worker_that_crashes_loses_nothing(client, clock: FakeClock):
    system = client.app.state.system
    for worker in system.workers:
        worker.tell(Kill())
    await settle()
    ids = [await submit(client, sum_of(index)) for index in range(5)]
    await clock.advance(5)
    assert [await status_of(client, each) for each in ids] == ["completed"] * 5


async def test_health_turns_503_after_more_than_five_crashes_a_minute_and_recovers(
    client, monkeypatch
):
    now = [1000.0]
    # The supervisor reads its own monotonic clock; give it one the test moves by hand.
    monkeypatch.setattr(runtime, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    system = client.app.state.system
    dispatcher = system.dispatcher
    for _ in range(5):
        dispatcher.tell(Kill())
    await settle()
    assert (await client.get("/healthz")).status_code == 200  # five is still tolerated
    dispatcher.tell(Kill())
    await settle()
    unhealthy = await client.get("/healthz")
    assert unhealthy.status_code == 503
    assert unhealthy.json() == {
        "status": "unhealthy",
        "detail": "an actor stopped or keeps crashing; see the log",
    }
    # The actor still serves between crashes: the API keeps answering.
    assert dispatcher.alive
    assert (await client.get("/tasks")).status_code == 200
    now[0] += 61
    assert (await client.get("/healthz")).status_code == 200


async def test_a_dead_actor_makes_health_answer_503(client):
    system = client.app.state.system
    await system.janitor.stop()
    assert (await client.get("/healthz")).status_code == 503


@pytest.mark.serial
async def test_a_job_that_swallows_cancellation_is_freed_at_once_and_stopped_in_bounded_time(
    make_client, clock: FakeClock, monkeypatch, caplog
):
    release = {1: asyncio.Event(), 2: asyncio.Event()}
    swallowed: list[int] = []

    async def stubborn_job(parameters, work):
        (number,) = parameters.numbers
        while True:
            try:
                await release[number].wait()
            except asyncio.CancelledError:
                swallowed.append(number)  # and keeps going, against every rule
            else:
                return number

    stubborn = dataclasses.replace(DEMO["compute_sum"], function=stubborn_job)
    monkeypatch.setattr(worker_module, "ABANDON_DEADLINE", 0.1)
    client = await make_client(workers=1, tasks=TaskTypes([stubborn]))
    system = client.app.state.system

    first = await submit(client, sum_of(1))
    await settle()
    assert await status_of(client, first) == "processing"
    async with asyncio.timeout(1):  # DELETE answers at once, whatever the job does
        cancelled = await client.delete(f"/tasks/{first}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    await settle()
    assert swallowed == [1]

    # The only worker is free again at once: the next task starts.
    second = await submit(client, sum_of(2))
    await settle()
    assert await status_of(client, second) == "processing"

    # The stubborn job ends late with a result: the cancellation stands.
    release[1].set()
    await settle()
    assert await status_of(client, first) == "cancelled"
    assert await status_of(client, second) == "processing"

    # Stopping the system (grace 0) cancels the second one, which also ignores it: the
    # stop still ends, after the abandon deadline, and the log names the stuck job.
    caplog.set_level(logging.WARNING, logger="taskmanager")
    started = time.monotonic()
    async with asyncio.timeout(5):
        await system.shutdown()
    assert time.monotonic() - started < 3
    assert swallowed == [1, 2]
    assert f"job:{second} ignored cancellation" in caplog.text
    assert f"task {second} still running after the 0.0 s grace period; cancelled" in caplog.text

    release[2].set()  # let it end, so the leak guard sees nothing left behind
    await settle()


@pytest.mark.parametrize("numbers", [[1e308, 1e308], [-1.5e308, -1.5e308, 1.0]])
async def test_a_sum_too_large_for_a_float_fails_cleanly_instead_of_crashing(
    client, clock: FakeClock, numbers
):
    task_id = await submit(client, sum_of(*numbers))
    await clock.advance(5)
    task = (await client.get(f"/tasks/{task_id}")).json()
    assert task["status"] == "failed"
    assert task["error"]["type"] == "value_error"
    assert "too large" in task["error"]["message"]
