"""The task store, dispatcher, workers and janitor, driven through their messages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support import FakeClock, settle

from taskmanager.actors import ActorSystem, Kill
from taskmanager.actors.messages import (
    CancelTask,
    GetDispatcherStatus,
    GetStoreStatus,
    GetTask,
    ListTasks,
    StoreFull,
    SubmitTask,
    WatchTask,
)
from taskmanager.actors.model import ComputeSum, GenerateReport, SimulateError, Task, TaskStatus


async def submit(system: ActorSystem, parameters=None) -> Task:
    parameters = parameters or ComputeSum(numbers=(1, 2, 3))
    task_type = {
        ComputeSum: "compute_sum",
        GenerateReport: "generate_report",
        SimulateError: "simulate_error",
    }[type(parameters)]
    task = await system.store.ask(SubmitTask(task_type, parameters))
    assert isinstance(task, Task)
    return task


async def get(system: ActorSystem, task: Task) -> Task:
    found = await system.store.ask(GetTask(task.task_id))
    assert found is not None
    return found


async def test_a_submitted_task_starts_at_once_and_completes_after_five_seconds(
    system, clock: FakeClock
):
    task = await submit(system)
    await settle()
    assert (await get(system, task)).status is TaskStatus.PROCESSING
    await clock.advance(4.9)
    assert (await get(system, task)).status is TaskStatus.PROCESSING
    await clock.advance(0.1)
    done = await get(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 6
    assert done.progress == 1.0
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.finished_at - done.started_at == timedelta(seconds=5)


async def test_float_sums_are_exact_to_the_last_bit(system, clock: FakeClock):
    task = await submit(system, ComputeSum(numbers=(0.1, 0.2, 1e100, -1e100)))
    await clock.advance(5)
    assert (await get(system, task)).result == pytest.approx(0.30000000000000004)


async def test_a_report_takes_five_seconds_per_section_and_reports_progress(
    system, clock: FakeClock
):
    task = await submit(system, GenerateReport(title="Quarterly", sections=4))
    await clock.advance(5)
    assert (await get(system, task)).progress == 0.25
    await clock.advance(10)
    assert (await get(system, task)).progress == 0.75
    await clock.advance(5)
    done = await get(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert isinstance(done.result, str)
    assert "Quarterly" in done.result


async def test_a_long_report_is_capped_at_thirty_seconds(system, clock: FakeClock):
    task = await submit(system, GenerateReport(title="Long", sections=10))
    await clock.advance(29.9)
    assert (await get(system, task)).status is TaskStatus.PROCESSING
    await clock.advance(0.1)
    assert (await get(system, task)).status is TaskStatus.COMPLETED


@pytest.mark.parametrize(
    ("error", "error_type"),
    [("value_error", "value_error"), ("timeout", "timeout"), ("crash", "crash")],
)
async def test_simulated_errors_fail_the_task_with_their_type(
    system, clock: FakeClock, error, error_type
):
    task = await submit(system, SimulateError(error=error))
    await clock.advance(5)
    failed = await get(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == error_type
    assert failed.error.message
    assert failed.result is None


async def test_at_most_five_tasks_are_processing_and_the_rest_wait_in_order(
    system, clock: FakeClock
):
    tasks = [await submit(system) for _ in range(7)]
    await settle()
    statuses = [(await get(system, task)).status for task in tasks]
    assert statuses == [TaskStatus.PROCESSING] * 5 + [TaskStatus.QUEUED] * 2
    status = await system.dispatcher.ask(GetDispatcherStatus())
    assert (status.queued, status.busy, status.workers) == (2, 5, 5)
    await clock.advance(5)
    statuses = [(await get(system, task)).status for task in tasks]
    assert statuses == [TaskStatus.COMPLETED] * 5 + [TaskStatus.PROCESSING] * 2


async def test_a_cancelled_queued_task_never_runs(system, clock: FakeClock):
    tasks = [await submit(system) for _ in range(6)]
    await settle()
    cancelled = await system.store.ask(CancelTask(tasks[5].task_id))
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    await clock.advance(60)
    final = await get(system, tasks[5])
    assert final.status is TaskStatus.CANCELLED
    assert final.started_at is None


async def test_cancelling_a_processing_task_frees_its_worker_at_once(system, clock: FakeClock):
    tasks = [await submit(system) for _ in range(6)]
    await settle()
    await system.store.ask(CancelTask(tasks[0].task_id))
    await settle()
    # The sixth task took the freed worker without any time passing.
    assert (await get(system, tasks[5])).status is TaskStatus.PROCESSING
    await clock.advance(5)
    assert (await get(system, tasks[0])).status is TaskStatus.CANCELLED
    assert (await get(system, tasks[1])).status is TaskStatus.COMPLETED


async def test_cancel_is_idempotent_and_finished_tasks_stay_finished(system, clock: FakeClock):
    task = await submit(system)
    await clock.advance(5)
    again = await system.store.ask(CancelTask(task.task_id))
    assert again is not None
    assert again.status is TaskStatus.COMPLETED
    other = await submit(system)
    first = await system.store.ask(CancelTask(other.task_id))
    second = await system.store.ask(CancelTask(other.task_id))
    assert first == second


async def test_a_worker_that_crashes_mid_task_fails_the_task_and_comes_back(
    system, clock: FakeClock
):
    task = await submit(system)
    await settle()
    worker = next(w for w in system.workers if w.index == 0)
    worker.tell(Kill())
    await settle()
    failed = await get(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "worker_crashed"
    assert system.healthy
    # The pool is back to its size: five new tasks all run at once.
    tasks = [await submit(system) for _ in range(5)]
    await settle()
    statuses = [(await get(system, t)).status for t in tasks]
    assert statuses == [TaskStatus.PROCESSING] * 5


async def test_the_store_refuses_tasks_beyond_its_maximum(clock: FakeClock, make_settings):
    system = ActorSystem(make_settings(max_tasks=2), clock)
    await system.start()
    try:
        await submit(system)
        await submit(system)
        full = await system.store.ask(SubmitTask("compute_sum", ComputeSum(numbers=(1,))))
        assert isinstance(full, StoreFull)
        assert full.retry_after >= 1
    finally:
        await system.stop()


async def test_the_janitor_removes_only_finished_tasks_after_the_ttl(
    clock: FakeClock, make_settings
):
    system = ActorSystem(make_settings(result_ttl=10, workers=1), clock)
    await system.start()
    try:
        done = await submit(system)  # runs from 0 s to 5 s
        report = await submit(system, GenerateReport(title="slow", sections=10))  # 5 s to 35 s
        queued = await submit(system)  # waits until 35 s
        await clock.advance(14.9)
        assert await system.store.ask(GetTask(done.task_id)) is not None
        await clock.advance(1.1)
        assert await system.store.ask(GetTask(done.task_id)) is None
        # Older than the TTL but not finished: kept.
        assert (await get(system, report)).status is TaskStatus.PROCESSING
        assert (await get(system, queued)).status is TaskStatus.QUEUED
        await clock.advance(24)  # 40 s: the report finished at 35 s, the last one at 40 s
        assert await system.store.ask(GetTask(report.task_id)) is not None
        await clock.advance(6)  # 46 s
        assert await system.store.ask(GetTask(report.task_id)) is None
        assert (await get(system, queued)).status is TaskStatus.COMPLETED
        status = await system.store.ask(GetStoreStatus())
        assert sum(status.counts.values()) == 1
    finally:
        await system.stop()


async def test_a_watch_resolves_when_the_status_changes_and_not_on_progress(
    system, clock: FakeClock
):
    task = await submit(system, GenerateReport(title="t", sections=2))
    await settle()
    watch = await system.store.ask(WatchTask(task.task_id, TaskStatus.PROCESSING))
    await clock.advance(5)  # progress 0.5 only
    assert not watch.done()
    await clock.advance(5)
    changed = await watch
    assert changed is not None
    assert changed.status is TaskStatus.COMPLETED


async def test_a_cancelled_watch_is_forgotten_by_the_store(system):
    task = await submit(system)
    await settle()
    watch = await system.store.ask(WatchTask(task.task_id, TaskStatus.PROCESSING))
    assert (await system.store.ask(GetStoreStatus())).waiters == 1
    watch.cancel()
    await settle()
    assert (await system.store.ask(GetStoreStatus())).waiters == 0


async def test_listing_is_oldest_first_filtered_and_limited(system, clock: FakeClock):
    tasks = [await submit(system) for _ in range(7)]
    await settle()
    listed = await system.store.ask(ListTasks())
    assert [t.task_id for t in listed] == [t.task_id for t in tasks]
    queued = await system.store.ask(ListTasks(status=TaskStatus.QUEUED))
    assert [t.task_id for t in queued] == [t.task_id for t in tasks[5:]]
    limited = await system.store.ask(ListTasks(limit=3))
    assert [t.task_id for t in limited] == [t.task_id for t in tasks[:3]]


async def test_many_simultaneous_submissions_are_all_kept_and_all_finish(system, clock: FakeClock):
    tasks = await asyncio.gather(*(submit(system) for _ in range(500)))
    assert len({task.task_id for task in tasks}) == 500
    await clock.advance(5 * 100)
    status = await system.store.ask(GetStoreStatus())
    assert status.counts[TaskStatus.COMPLETED] == 500
