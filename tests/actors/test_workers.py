"""Running tasks: the task types, the worker pool, cancelling, crashes and hand-overs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support import FakeClock, current, settle, submit_to

from taskmanager.actors import Kill
from taskmanager.actors.messages import CancelTask, GetDispatcherStatus, StartTask
from taskmanager.actors.model import TaskStatus
from taskmanager.actors.runtime import MailboxFullError
from taskmanager.demo import ComputeSum, GenerateReport, SimulateError

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


async def test_a_submitted_task_starts_at_once_and_completes_after_five_seconds(
    system, clock: FakeClock
):
    task = await submit_to(system)
    await settle()
    started = await current(system, task)
    assert started.status is TaskStatus.PROCESSING
    assert started.attempts == 1
    await clock.advance(4.9)
    assert (await current(system, task)).status is TaskStatus.PROCESSING
    await clock.advance(0.1)
    done = await current(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 6
    assert done.progress == 1.0
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.finished_at - done.started_at == timedelta(seconds=5)


async def test_float_sums_are_exact_to_the_last_bit(system, clock: FakeClock):
    task = await submit_to(system, ComputeSum(numbers=(0.1, 0.2, 1e100, -1e100)))
    await clock.advance(5)
    assert (await current(system, task)).result == pytest.approx(0.30000000000000004)


async def test_a_report_takes_five_seconds_per_section_and_reports_progress(
    system, clock: FakeClock
):
    task = await submit_to(system, GenerateReport(title="Quarterly", sections=4))
    await clock.advance(5)
    assert (await current(system, task)).progress == 0.25
    await clock.advance(10)
    assert (await current(system, task)).progress == 0.75
    await clock.advance(5)
    done = await current(system, task)
    assert done.status is TaskStatus.COMPLETED
    assert isinstance(done.result, str)
    assert "Quarterly" in done.result


async def test_a_long_report_is_capped_at_thirty_seconds(system, clock: FakeClock):
    task = await submit_to(system, GenerateReport(title="Long", sections=10))
    await clock.advance(29.9)
    assert (await current(system, task)).status is TaskStatus.PROCESSING
    await clock.advance(0.1)
    assert (await current(system, task)).status is TaskStatus.COMPLETED


@pytest.mark.parametrize("error", ["value_error", "timeout", "crash"])
async def test_simulated_errors_fail_the_task_with_their_type(system, clock: FakeClock, error):
    task = await submit_to(system, SimulateError(error=error))
    await clock.advance(5)
    failed = await current(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == error
    assert failed.error.message
    assert failed.result is None


async def test_at_most_five_tasks_are_processing_and_the_rest_wait_in_order(
    system, clock: FakeClock
):
    tasks = [await submit_to(system) for _ in range(7)]
    await settle()
    statuses = [(await current(system, task)).status for task in tasks]
    assert statuses == [TaskStatus.PROCESSING] * 5 + [TaskStatus.QUEUED] * 2
    status = await system.dispatcher.ask(GetDispatcherStatus())
    assert (status.queued, status.busy, status.workers) == (2, 5, 5)
    await clock.advance(5)
    statuses = [(await current(system, task)).status for task in tasks]
    assert statuses == [TaskStatus.COMPLETED] * 5 + [TaskStatus.PROCESSING] * 2


async def test_a_cancelled_queued_task_never_runs(system, clock: FakeClock):
    tasks = [await submit_to(system) for _ in range(6)]
    await settle()
    cancelled = await system.store.ask(CancelTask(tasks[5].task_id))
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    await clock.advance(60)
    final = await current(system, tasks[5])
    assert final.status is TaskStatus.CANCELLED
    assert final.started_at is None


async def test_cancelling_a_processing_task_frees_its_worker_at_once(system, clock: FakeClock):
    tasks = [await submit_to(system) for _ in range(6)]
    await settle()
    await system.store.ask(CancelTask(tasks[0].task_id))
    await settle()
    # The sixth task took the freed worker without any time passing.
    assert (await current(system, tasks[5])).status is TaskStatus.PROCESSING
    await clock.advance(5)
    assert (await current(system, tasks[0])).status is TaskStatus.CANCELLED
    assert (await current(system, tasks[1])).status is TaskStatus.COMPLETED


async def test_cancel_is_idempotent_and_finished_tasks_stay_finished(system, clock: FakeClock):
    task = await submit_to(system)
    await clock.advance(5)
    again = await system.store.ask(CancelTask(task.task_id))
    assert again is not None
    assert again.status is TaskStatus.COMPLETED
    other = await submit_to(system)
    first = await system.store.ask(CancelTask(other.task_id))
    second = await system.store.ask(CancelTask(other.task_id))
    assert first == second


async def test_a_worker_that_crashes_mid_task_fails_the_task_and_comes_back(
    system, clock: FakeClock
):
    task = await submit_to(system)
    await settle()
    system.workers[0].tell(Kill())
    await settle()
    failed = await current(system, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "worker_lost"
    assert system.healthy
    # The pool is back to its size: five new tasks all run at once.
    tasks = [await submit_to(system) for _ in range(5)]
    await settle()
    assert [(await current(system, t)).status for t in tasks] == [TaskStatus.PROCESSING] * 5


# On Redis no hand-over asks the store: the claim that takes the task starts it.
@pytest.mark.backends("memory")
@pytest.mark.parametrize(
    "failure",
    [MailboxFullError("the store is overloaded"), RuntimeError("the store's handler broke")],
)
async def test_a_failed_hand_over_gives_the_task_back_and_keeps_the_worker(
    system, clock: FakeClock, monkeypatch, failure
):
    """Whatever makes StartTask fail, the task runs later and the pool keeps its size."""
    store = system.store
    real_ask = type(store).ask
    failures = [failure]

    async def ask(self, message, timeout=5.0):
        if isinstance(message, StartTask) and failures:
            raise failures.pop()
        return await real_ask(self, message, timeout)

    monkeypatch.setattr(type(store), "ask", ask)
    task = await submit_to(system)
    await settle()
    assert not failures, "the hand-over was tried"
    assert (await current(system, task)).status is TaskStatus.PROCESSING
    others = [await submit_to(system) for _ in range(4)]
    await settle()
    assert [(await current(system, t)).status for t in others] == [TaskStatus.PROCESSING] * 4
    # The dispatcher knows which worker runs the task now: a cancel stops that one.
    await system.store.ask(CancelTask(task.task_id))
    await settle()
    assert (await system.dispatcher.ask(GetDispatcherStatus())).busy == 4
    await clock.advance(5)
    assert [(await current(system, t)).status for t in others] == [TaskStatus.COMPLETED] * 4
    status = await system.dispatcher.ask(GetDispatcherStatus())
    assert (status.busy, status.queued) == (0, 0)


async def test_a_late_report_from_a_cancelled_attempt_changes_nothing(system, clock):
    task = await submit_to(system, GenerateReport(title="t", sections=2))
    await settle()
    cancelled = await system.store.ask(CancelTask(task.task_id))
    await clock.advance(30)
    assert await current(system, task) == cancelled


async def test_many_tasks_run_five_at_a_time_until_all_complete(system, clock: FakeClock):
    tasks = [await submit_to(system) for _ in range(23)]
    await clock.advance(25)
    assert {(await current(system, t)).status for t in tasks} == {TaskStatus.COMPLETED}
