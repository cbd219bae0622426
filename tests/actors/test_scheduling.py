"""Job options: priority, delay, per-attempt timeout, and retries with backoff."""

from __future__ import annotations

import random
from datetime import timedelta
from uuid import uuid4

import pytest
from support import EPOCH, FakeClock, current, settle, submit_to, watch

from taskmanager.actors import ActorSystem
from taskmanager.actors.dispatcher import Dispatcher, _Due
from taskmanager.actors.messages import (
    CancelTask,
    GetDispatcherStatus,
    GetStoreStatus,
    WatchTask,
    WorkAvailable,
)
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.queue import MemoryQueue
from taskmanager.actors.runtime import Actor, UnavailableError
from taskmanager.actors.store import MAX_BACKOFF, backoff
from taskmanager.demo import ComputeSum, GenerateReport, SimulateError

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


@pytest.fixture
async def one_worker(clock: FakeClock, make_settings):
    system = ActorSystem(make_settings(workers=1, retry_backoff=2), clock)
    watch(system.actors)
    await system.start()
    yield system
    await system.stop()


async def started_order(system: ActorSystem, tasks: list[Task]) -> list[Task]:
    found = [await current(system, task) for task in tasks]
    return sorted(found, key=lambda task: task.started_at or task.created_at)


async def test_higher_priorities_run_first_and_equal_ones_in_submission_order(
    one_worker, clock: FakeClock
):
    blocker = await submit_to(one_worker)
    await settle()  # the blocker holds the only worker while the others arrive
    low = await submit_to(one_worker, ComputeSum(numbers=(1,)))
    high = await submit_to(one_worker, ComputeSum(numbers=(2,)), priority=9)
    mid_first = await submit_to(one_worker, ComputeSum(numbers=(3,)), priority=5)
    mid_second = await submit_to(one_worker, ComputeSum(numbers=(4,)), priority=5)
    await clock.advance(25)
    order = await started_order(one_worker, [blocker, low, high, mid_first, mid_second])
    assert [task.task_id for task in order] == [
        t.task_id for t in (blocker, high, mid_first, mid_second, low)
    ]


async def test_a_delayed_task_takes_no_worker_until_it_is_due(one_worker, clock: FakeClock):
    delayed = await submit_to(one_worker, delay=30)
    assert (delayed.run_at - delayed.created_at).total_seconds() == 30
    ready = await submit_to(one_worker)
    await settle()
    assert (await current(one_worker, ready)).status is TaskStatus.PROCESSING
    await clock.advance(29.9)
    assert (await current(one_worker, ready)).status is TaskStatus.COMPLETED
    assert (await current(one_worker, delayed)).status is TaskStatus.QUEUED
    status = await one_worker.dispatcher.ask(GetDispatcherStatus())
    assert status.busy == 0  # the worker stays free for other work meanwhile
    await clock.advance(0.1)
    started = await current(one_worker, delayed)
    assert started.status is TaskStatus.PROCESSING
    assert started.started_at == started.run_at


async def test_an_earlier_delayed_task_moves_the_one_timer_forward(one_worker, clock: FakeClock):
    late = await submit_to(one_worker, delay=60)
    early = await submit_to(one_worker, delay=10)
    await clock.advance(10)
    assert (await current(one_worker, early)).status is TaskStatus.PROCESSING
    assert (await current(one_worker, late)).status is TaskStatus.QUEUED
    await clock.advance(50)
    assert (await current(one_worker, late)).status is TaskStatus.PROCESSING


async def test_a_delayed_task_can_be_cancelled_while_it_waits(one_worker, clock: FakeClock):
    delayed = await submit_to(one_worker, delay=10)
    cancelled = await one_worker.store.ask(CancelTask(delayed.task_id))
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    await clock.advance(20)
    final = await current(one_worker, delayed)
    assert final.status is TaskStatus.CANCELLED
    assert final.started_at is None
    assert final.attempts == 0


async def test_an_attempt_longer_than_its_timeout_fails_and_frees_the_worker(
    one_worker, clock: FakeClock
):
    slow = await submit_to(one_worker, GenerateReport(title="slow", sections=4), timeout=7.5)
    waiting = await submit_to(one_worker)
    await clock.advance(7.4)
    assert (await current(one_worker, slow)).status is TaskStatus.PROCESSING
    await clock.advance(0.1)
    failed = await current(one_worker, slow)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None
    assert failed.error.type == "timeout"
    assert "7.5" in failed.error.message
    assert failed.progress == 0.25  # one section of four was done
    assert (await current(one_worker, waiting)).status is TaskStatus.PROCESSING
    assert (await one_worker.store.ask(GetStoreStatus())).timeouts_total == 1


async def test_a_timeout_longer_than_the_work_changes_nothing(one_worker, clock: FakeClock):
    task = await submit_to(one_worker, timeout=5.1)
    await clock.advance(5)
    done = await current(one_worker, task)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == 6


async def test_a_retryable_failure_waits_its_backoff_then_runs_again(one_worker, clock: FakeClock):
    task = await submit_to(one_worker, SimulateError(error="crash"), max_retries=2)
    await clock.advance(5)  # the first attempt crashes
    waiting = await current(one_worker, task)
    assert waiting.status is TaskStatus.QUEUED
    assert waiting.attempts == 1
    assert waiting.error is not None
    assert waiting.error.type == "crash"
    wait = waiting.run_at - clock.now()
    # TASKMANAGER_RETRY_BACKOFF is 2 s here: the first retry waits 2 s plus up to 10 %.
    assert 2 <= wait.total_seconds() <= 2.2
    await clock.advance(wait.total_seconds() + 0.001)  # run_at is kept to the microsecond
    second = await current(one_worker, task)
    assert second.status is TaskStatus.PROCESSING
    assert second.attempts == 2
    await clock.advance(5)  # second attempt fails; the second retry waits 4 s
    # From when it failed, 5 s after its start (which a timer may have made a little
    # before the moment the clock was taken to).
    assert second.started_at is not None
    failed_at = second.started_at + timedelta(seconds=5)
    third_wait = (await current(one_worker, task)).run_at - failed_at
    assert 4 <= third_wait.total_seconds() <= 4.4
    await clock.advance((failed_at + third_wait - clock.now()).total_seconds() + 5.001)
    final = await current(one_worker, task)
    assert final.status is TaskStatus.FAILED
    assert final.attempts == 3  # 1 + max_retries, never more
    assert (await one_worker.store.ask(GetStoreStatus())).retries_total == 2


async def test_a_value_error_is_never_retried(one_worker, clock: FakeClock):
    task = await submit_to(one_worker, SimulateError(error="value_error"), max_retries=5)
    await clock.advance(5)
    failed = await current(one_worker, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.attempts == 1


async def test_a_timed_out_attempt_is_retried(one_worker, clock: FakeClock):
    task = await submit_to(one_worker, timeout=1, max_retries=1)
    await clock.advance(1)
    assert (await current(one_worker, task)).status is TaskStatus.QUEUED
    await clock.advance(3.5)  # backoff (2 to 2.2 s), then the second attempt times out too
    final = await current(one_worker, task)
    assert final.status is TaskStatus.FAILED
    assert final.error is not None
    assert final.error.type == "timeout"
    assert final.attempts == 2


async def test_a_cancel_while_waiting_for_a_retry_ends_the_task_for_good(
    one_worker, clock: FakeClock
):
    task = await submit_to(one_worker, SimulateError(error="timeout"), max_retries=3)
    await clock.advance(5)
    assert (await current(one_worker, task)).status is TaskStatus.QUEUED
    await one_worker.store.ask(CancelTask(task.task_id))
    await clock.advance(60)
    final = await current(one_worker, task)
    assert final.status is TaskStatus.CANCELLED
    assert final.attempts == 1


async def test_a_long_poll_ends_when_a_failed_attempt_goes_back_to_the_queue(
    one_worker, clock: FakeClock
):
    task = await submit_to(one_worker, SimulateError(error="crash"), max_retries=1)
    await settle()
    changed = await one_worker.store.ask(WatchTask(task.task_id, TaskStatus.PROCESSING))
    await clock.advance(5)
    retried = await changed
    assert retried is not None
    assert retried.status is TaskStatus.QUEUED
    assert retried.attempts == 1


def test_backoff_doubles_caps_at_a_minute_and_adds_at_most_ten_percent():
    rng = random.Random(7)  # noqa: S311 - jitter, not a secret
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, MAX_BACKOFF), (30, 60.0)]:
        waits = [backoff(1.0, retry, rng) for _ in range(200)]
        assert min(waits) >= base
        assert max(waits) <= base * 1.1
        assert max(waits) > min(waits)  # jitter


async def test_the_queue_takes_ready_tasks_by_priority_and_holds_delayed_ones():
    def task(number: int, priority: int, delay: float) -> Task:
        return Task(
            task_id=uuid4(),
            task_type="compute_sum",
            status=TaskStatus.QUEUED,
            parameters=ComputeSum(numbers=(number,)),
            created_at=EPOCH,
            run_at=EPOCH + timedelta(seconds=delay),
            priority=priority,
        )

    queue = MemoryQueue()
    now = EPOCH.timestamp()
    tasks = [task(0, 0, 0), task(1, 5, 0), task(2, 5, 0), task(3, 9, 100), task(4, 1, 0)]
    for seq, each in enumerate(tasks):
        await queue.add(each, seq)
    assert await queue.remove(tasks[4].task_id)
    assert await queue.next_due(now) == now + 100
    taken = []
    while (item := await queue.take(now)) is not None:
        taken.append(item[0])
    assert taken == [tasks[1], tasks[2], tasks[0]]
    assert await queue.size() == 1
    assert await queue.take(now + 100) == (tasks[3], 3, None)


async def test_a_task_cancelled_while_it_waits_for_a_retry_shows_no_error(
    one_worker, clock: FakeClock
):
    task = await submit_to(one_worker, SimulateError(error="crash"), max_retries=1)
    await clock.advance(5)
    assert (await current(one_worker, task)).error is not None  # the last attempt's
    cancelled = await one_worker.store.ask(CancelTask(task.task_id))
    assert cancelled is not None
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.error is None
    assert cancelled.result is None


async def test_a_dispatch_that_outlives_the_dispatchers_stop_starts_no_timer(clock: FakeClock):
    """A dispatch can outlive the stop (a Redis client that turns the cancel of its call
    into a closed connection): its retry timer would be left running behind."""

    class ClosedQueue(MemoryQueue):
        async def take(self, *_args, **_options):
            raise UnavailableError("the connection to Redis is closed")

    dispatcher = Dispatcher(clock, ClosedQueue())
    dispatcher.attach([Actor("worker")])
    await dispatcher.on_stop()
    await dispatcher.receive(WorkAvailable())
    # The autouse fixture finds any task left behind, the timer's among them.


async def test_a_due_told_before_a_newer_timer_was_set_leaves_no_timer_behind(clock: FakeClock):
    """A timer fires (its _Due waits in the mailbox), a dispatch sets a newer one, then the
    stale _Due is handled: the newer timer must still be the one the stop cancels."""
    dispatcher = Dispatcher(clock, MemoryQueue())
    dispatcher.attach([Actor("worker")])
    dispatcher._set_timer(clock.now().timestamp() + 60)
    await dispatcher.receive(_Due())
    await dispatcher.on_stop()
    # The autouse fixture finds any task left behind, the timer's among them.
