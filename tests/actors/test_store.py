"""The task store through its messages: records, limits, watches, pages and expiry."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import pytest
from support import FakeClock, current, settle, submit_to, watch

from taskmanager.actors import ActorSystem
from taskmanager.actors.events import REPLAY_BUFFER
from taskmanager.actors.messages import (
    CancelTask,
    FinishTask,
    GetStoreStatus,
    GetTask,
    KeyReused,
    ListTasks,
    Replayed,
    StartTask,
    StoreFull,
    SubmitTask,
    WatchTask,
)
from taskmanager.actors.model import JobOptions, ParametersObject, Task, TaskStatus
from taskmanager.actors.redis import store as redis_store
from taskmanager.actors.runtime import ActorStoppedError
from taskmanager.demo import ComputeSum, GenerateReport

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")

#: Tasks a memory figure is measured over.
COUNTED = 2_000


@pytest.fixture
async def make_system(clock: FakeClock, make_settings):
    started: list[ActorSystem] = []

    async def make(**overrides) -> ActorSystem:
        system = ActorSystem(make_settings(**overrides), clock)
        watch(system.actors)
        await system.start()
        started.append(system)
        return system

    yield make
    for system in started:
        await system.stop()


async def test_the_store_refuses_tasks_beyond_its_maximum(make_system):
    system = await make_system(max_tasks=2)
    await submit_to(system)
    await submit_to(system)
    message = SubmitTask("compute_sum", ParametersObject.of(ComputeSum(numbers=(1,))), JobOptions())
    full = await system.store.ask(message)
    assert isinstance(full, StoreFull)
    assert full.retry_after >= 1


@pytest.mark.backends("memory")  # on Redis, Redis's maxmemory bounds the bytes kept
async def test_results_count_against_the_stores_bytes_until_their_task_expires(
    make_system, clock: FakeClock
):
    system = await make_system(max_store_mb=1, result_ttl=60)
    task = await submit_to(system, delay=3600)  # never started by a worker
    assert await system.store.ask(StartTask(task.task_id, "lease-1")) is not None
    system.store.tell(FinishTask(task.task_id, "lease-1", "x" * 700_000, None))
    await settle()
    # Built unchecked: past the 10,000 numbers a client may send, to weigh half a MiB.
    half_a_mebibyte = ComputeSum.model_construct(numbers=(1.2345678901234567e-300,) * 20_000)
    message = SubmitTask("compute_sum", ParametersObject.of(half_a_mebibyte), JobOptions())
    assert isinstance(await system.store.ask(message), StoreFull)
    await clock.advance(61)  # the task and its result expire
    assert isinstance(await system.store.ask(message), Task)


@pytest.mark.backends("memory")  # on Redis, one script does all of it
async def test_a_submission_the_dispatcher_cannot_take_changes_nothing(system):
    """A submission is one step: when its hand-over fails, the store keeps no trace of it."""
    await system.dispatcher.stop()
    message = SubmitTask("compute_sum", ParametersObject.of(ComputeSum(numbers=(1,))), JobOptions())
    with pytest.raises(ActorStoppedError):
        await system.store.ask(message)
    assert (await system.store.ask(ListTasks(10))).tasks == ()
    assert sum((await system.store.ask(GetStoreStatus())).counts.values()) == 0


async def test_an_idempotency_key_replays_the_same_submission_and_refuses_another(system):
    options = JobOptions(priority=3)
    first = SubmitTask(
        "compute_sum", ParametersObject.of(ComputeSum(numbers=(1,))), options, "key-1"
    )
    created = await system.store.ask(first)
    assert isinstance(created, Task)
    replayed = await system.store.ask(first)
    assert isinstance(replayed, Replayed)
    assert replayed.task.task_id == created.task_id
    other_options = SubmitTask(
        "compute_sum",
        ParametersObject.of(ComputeSum(numbers=(1,))),
        JobOptions(priority=4),
        "key-1",
    )
    assert await system.store.ask(other_options) == KeyReused(created.task_id)


async def test_idempotency_keys_belong_to_their_owner(system):
    message = SubmitTask(
        "compute_sum",
        ParametersObject.of(ComputeSum(numbers=(1,))),
        JobOptions(),
        "shared",
        "alice",
    )
    alices = await system.store.ask(message)
    bobs = await system.store.ask(
        SubmitTask(
            "compute_sum",
            ParametersObject.of(ComputeSum(numbers=(2,))),
            JobOptions(),
            "shared",
            "bob",
        )
    )
    assert isinstance(alices, Task)
    assert isinstance(bobs, Task)
    assert alices.task_id != bobs.task_id


async def test_a_task_is_seen_only_by_its_owner_and_by_an_unrestricted_viewer(system):
    message = SubmitTask(
        "compute_sum", ParametersObject.of(ComputeSum(numbers=(1,))), JobOptions(), owner="alice"
    )
    task = await system.store.ask(message)
    assert isinstance(task, Task)
    assert await system.store.ask(GetTask(task.task_id, viewer="alice")) is not None
    assert await system.store.ask(GetTask(task.task_id, viewer="bob")) is None
    assert await system.store.ask(GetTask(task.task_id)) is not None
    assert await system.store.ask(CancelTask(task.task_id, viewer="bob")) is None
    assert (await system.store.ask(ListTasks(10, viewer="bob"))).tasks == ()
    assert (await system.store.ask(GetStoreStatus(viewer="bob"))).counts[TaskStatus.QUEUED] == 0


async def test_the_janitor_removes_only_finished_tasks_after_the_ttl(make_system, clock):
    system = await make_system(result_ttl=10, workers=1)
    done = await submit_to(system)  # runs from 0 s to 5 s
    report = await submit_to(system, GenerateReport(title="slow", sections=10))  # 5 s to 35 s
    queued = await submit_to(system)  # waits until 35 s
    await clock.advance(14.9)
    assert await system.store.ask(GetTask(done.task_id)) is not None
    await clock.advance(1.1)
    assert await system.store.ask(GetTask(done.task_id)) is None
    # Older than the TTL but not finished: kept.
    assert (await current(system, report)).status is TaskStatus.PROCESSING
    assert (await current(system, queued)).status is TaskStatus.QUEUED
    await clock.advance(24)  # 40 s: the report finished at 35 s, the last one at 40 s
    assert await system.store.ask(GetTask(report.task_id)) is not None
    await clock.advance(6)  # 46 s
    assert await system.store.ask(GetTask(report.task_id)) is None
    assert (await current(system, queued)).status is TaskStatus.COMPLETED
    status = await system.store.ask(GetStoreStatus())
    assert sum(status.counts.values()) == 1


async def test_each_sweep_removes_every_expired_task_however_many(make_system, clock, monkeypatch):
    # Redis removes expired tasks in batches (a script each): a sweep takes as many as
    # there are, so that removal keeps up with tasks finishing at any rate.
    monkeypatch.setattr(redis_store, "SWEEP_BATCH", 3)
    system = await make_system(result_ttl=10, workers=8)
    tasks = [await submit_to(system) for _ in range(8)]  # each runs from 0 s to 5 s
    await clock.advance(14.9)
    assert await system.store.ask(GetTask(tasks[0].task_id)) is not None
    await clock.advance(1.1)  # the janitor's sweeps at 15 s and 16 s
    for task in tasks:
        assert await system.store.ask(GetTask(task.task_id)) is None
    assert sum((await system.store.ask(GetStoreStatus())).counts.values()) == 0


async def test_a_watch_resolves_when_the_status_changes_and_not_on_progress(system, clock):
    task = await submit_to(system, GenerateReport(title="t", sections=2))
    await settle()
    changed = await system.store.ask(WatchTask(task.task_id, TaskStatus.PROCESSING))
    await clock.advance(5)  # progress 0.5 only
    assert not changed.done()
    await clock.advance(5)
    finished = await changed
    assert finished is not None
    assert finished.status is TaskStatus.COMPLETED


async def test_a_cancelled_watch_is_forgotten_by_the_store(system):
    task = await submit_to(system)
    await settle()
    changed = await system.store.ask(WatchTask(task.task_id, TaskStatus.PROCESSING))
    assert (await system.store.ask(GetStoreStatus())).waiters == 1
    changed.cancel()
    await settle()
    assert (await system.store.ask(GetStoreStatus())).waiters == 0


async def test_pages_run_oldest_or_newest_first_and_filter(system):
    tasks = [await submit_to(system) for _ in range(7)]
    await settle()
    ids = [task.task_id for task in tasks]
    everything = await system.store.ask(ListTasks(100))
    assert [t.task_id for t in everything.tasks] == ids
    assert everything.next_after is None
    newest = await system.store.ask(ListTasks(100, order="newest"))
    assert [t.task_id for t in newest.tasks] == ids[::-1]
    queued = await system.store.ask(ListTasks(100, status=TaskStatus.QUEUED))
    assert [t.task_id for t in queued.tasks] == ids[5:]
    reports = await system.store.ask(ListTasks(100, task_type="generate_report"))
    assert reports.tasks == ()


@pytest.mark.parametrize("order", ["oldest", "newest"])
async def test_walking_the_pages_sees_every_kept_task_once_while_tasks_come_and_go(system, order):
    kept = [await submit_to(system) for _ in range(25)]
    seen: list[Task] = []
    after = None
    for round_number in range(100):
        page = await system.store.ask(ListTasks(4, order=order, after=after))
        seen += page.tasks
        # Between pages: a new task arrives and one of the first ones is cancelled.
        await submit_to(system)
        await system.store.ask(CancelTask(kept[round_number % 5].task_id))
        after = page.next_after
        if after is None:
            break
    seen_ids = [task.task_id for task in seen]
    assert len(seen_ids) == len(set(seen_ids)), "a task was repeated"
    assert {task.task_id for task in kept} <= set(seen_ids), "a task was skipped"


async def test_many_simultaneous_submissions_are_all_kept_and_all_finish(system, clock):
    tasks = await asyncio.gather(*(submit_to(system) for _ in range(500)))
    assert len({task.task_id for task in tasks}) == 500
    await clock.advance(5 * 100)
    status = await system.store.ask(GetStoreStatus())
    assert status.counts[TaskStatus.COMPLETED] == 500


@pytest.mark.backends("memory")  # on Redis the records live in Redis: see the benchmark
async def test_a_completed_task_kept_in_memory_takes_under_700_bytes(make_system):
    system = await make_system(time_scale=0, max_tasks=10_000)
    tracemalloc.start()
    try:
        # The log of recent events is bounded: filled first, it stays the same size.
        await complete(system, REPLAY_BUFFER // 3 + 100)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        await complete(system, COUNTED)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # About 530 B of Python objects: the record, its parameters as JSON and the indexes
    # (a model instance per record, with its own dict and set, was about 450 B more).
    per_task = (after - before) / COUNTED
    assert per_task < 700, f"{per_task:.0f} B per task"


async def complete(system: ActorSystem, count: int) -> None:
    """Submit ``count`` tasks and let them finish."""
    await asyncio.gather(*(submit_to(system) for _ in range(count)))
    await settle()
    status = await system.store.ask(GetStoreStatus())
    assert sum(status.counts.values()) == status.counts.get(TaskStatus.COMPLETED), status
