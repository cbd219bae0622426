"""A state machine over the running actor system, checked against what a client has seen.

Tasks come with every job option (priorities, delays, timeouts, retries), some waiting for
others; workers crash; the queue is paused and resumed; schedules come and go and make
tasks; time moves. After every step the model checks the promises README.md makes.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from conftest import flush_prefix
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support import TYPE_OF, FakeClock, forget_watched, settle, watch

from taskmanager.actors import ActorSystem, Kill
from taskmanager.actors.messages import (
    CancelTask,
    GetDispatcherStatus,
    GetStoreStatus,
    GetTask,
    ListTasks,
    PauseQueue,
    SubmitTask,
    UnknownDependency,
)
from taskmanager.actors.model import JobOptions, ParametersObject, Task, TaskStatus
from taskmanager.actors.schedules import (
    DeleteSchedule,
    ListSchedules,
    PutSchedule,
    ScheduleSpec,
    Timing,
)
from taskmanager.config import Settings
from taskmanager.demo import ComputeSum, GenerateReport, SimulateError

WORKERS = 3
# Datetimes keep microseconds; a timer set from one wakes on the float clock.
SLACK = timedelta(milliseconds=1)
ATTEMPTED = {TaskStatus.PROCESSING, TaskStatus.COMPLETED, TaskStatus.FAILED}

parameters = st.one_of(
    st.builds(
        ComputeSum, numbers=st.lists(st.integers(-100, 100), min_size=1, max_size=5).map(tuple)
    ),
    st.builds(GenerateReport, title=st.just("report"), sections=st.integers(1, 10)),
    st.builds(SimulateError, error=st.sampled_from(["value_error", "timeout", "crash"])),
)
options = st.builds(
    JobOptions,
    priority=st.sampled_from([0, 0, 3, 9]),
    delay=st.sampled_from([0.0, 0.0, 0.5, 2.0, 7.0]),
    timeout=st.sampled_from([None, None, 1.0, 3.0, 12.0]),
    max_retries=st.integers(0, 2),
)
# Two clients with their own API keys: neither may ever see the other's tasks.
OWNERS = ("alice", "bob")
owners = st.sampled_from(OWNERS)


def progress_key(task: Task) -> int:
    """How far a task has come: it may skip ahead between two looks, never go back."""
    if task.status.terminal:
        return 1_000
    # Waiting for attempt n+1 (queued, n attempts made) comes after running attempt n.
    return 2 * task.attempts - (task.status is TaskStatus.PROCESSING)


@dataclass
class Model:
    """What a client has seen: the last record of each task, and what must hold forever."""

    seen: dict[UUID, Task] = field(default_factory=dict)
    # Submission order, which breaks ties between equal priorities.
    order: dict[UUID, int] = field(default_factory=dict)
    # Cancelled before any attempt started: it must never start.
    never_started: set[UUID] = field(default_factory=set)
    owner: dict[UUID, str] = field(default_factory=dict)
    # While the queue is paused: the attempts each task had made when it paused.
    attempts_at_pause: dict[UUID, int] | None = None
    # Each schedule's owner, and the spans it ran with one timing: (start, every, end).
    schedule_owner: dict[str, str] = field(default_factory=dict)
    schedule_spans: dict[str, list[tuple[datetime, int, datetime | None]]] = field(
        default_factory=dict
    )
    # What each task was submitted to wait for (each once, in order).
    depends: dict[UUID, tuple[UUID, ...]] = field(default_factory=dict)

    def due_times(self, name: str, now: datetime) -> list[datetime]:
        """Every due time of schedule ``name`` up to ``now``: one task each, no more."""
        times = []
        for start, every, end in self.schedule_spans.get(name, []):
            due = start + timedelta(seconds=every)
            while due <= (end or now) + SLACK and due <= now + SLACK:
                times.append(due)
                due += timedelta(seconds=every)
        return times


class TaskLifecycle(RuleBasedStateMachine):
    def __init__(self, redis_url: str | None = None) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.clock = FakeClock()
        values = {"workers": WORKERS, "result_ttl": 10**9, "retry_backoff": 1.0}
        self.redis_prefix = f"sm{uuid.uuid4().hex[:12]}"
        if redis_url is not None:
            values |= {"redis_url": redis_url, "redis_prefix": self.redis_prefix}
        config = Settings.model_validate(values)
        # Seeded jitter: the same steps always give the same run, as Hypothesis needs.
        self.system = ActorSystem(config, self.clock, random.Random(0))  # noqa: S311
        watch(self.system.actors)
        self.runner.run(self.system.start())
        self.model = Model()

    def run(self, coroutine):
        return self.runner.run(coroutine)

    async def _settled[T](self, coroutine) -> T:
        result = await coroutine
        await settle()
        return result

    def _record(self, task: Task, owner: str) -> None:
        assert task.task_id not in self.model.seen
        self.model.owner[task.task_id] = owner
        # Queued; or cancelled at once, when a task it depends on had already failed.
        if task.status is not TaskStatus.QUEUED:
            assert task.status is TaskStatus.CANCELLED
            assert task.error is not None
            assert task.error.type == "dependency_failed"
        assert task.attempts == 0
        self.model.order[task.task_id] = len(self.model.order)
        self.model.seen[task.task_id] = task

    @rule(params=parameters, job=options, owner=owners)
    def submit(self, params, job, owner) -> None:
        message = SubmitTask(TYPE_OF[type(params)], ParametersObject.of(params), job, owner=owner)
        task = self.run(self._settled(self.system.store.ask(message)))
        assert isinstance(task, Task)
        self._record(task, owner)

    @precondition(lambda self: self.model.seen)
    @rule(params=parameters, job=options, owner=owners, data=st.data())
    def submit_after(self, params, job, owner, data) -> None:
        """A task that waits for one to three others; another client's are not found."""
        depends_on = data.draw(st.lists(st.sampled_from(list(self.model.seen)), max_size=3))
        message = SubmitTask(
            TYPE_OF[type(params)],
            ParametersObject.of(params),
            job,
            owner=owner,
            depends_on=tuple(depends_on),
            viewer=owner,
        )
        outcome = self.run(self._settled(self.system.store.ask(message)))
        foreign = [d for d in depends_on if self.model.owner[d] != owner]
        if foreign:
            assert outcome == UnknownDependency(foreign[0])
            return
        assert isinstance(outcome, Task)
        assert outcome.depends_on == tuple(dict.fromkeys(depends_on))
        self._record(outcome, owner)
        self.model.depends[outcome.task_id] = outcome.depends_on
        if outcome.status is TaskStatus.CANCELLED:
            self.model.never_started.add(outcome.task_id)

    @precondition(lambda self: self.model.seen)
    @rule(data=st.data(), viewer=st.sampled_from([*OWNERS, None]))
    def cancel(self, data, viewer) -> None:
        """A client cancels a task: its own goes, another's is not found and stays."""
        task_id = data.draw(st.sampled_from(list(self.model.seen)))
        before = self.run(self.system.store.ask(GetTask(task_id)))
        if viewer is not None and self.model.owner[task_id] != viewer:
            assert (
                self.run(self._settled(self.system.store.ask(CancelTask(task_id, viewer)))) is None
            )
            return
        after = self.run(self._settled(self.system.store.ask(CancelTask(task_id, viewer))))
        assert before is not None
        assert after is not None
        if before.status.terminal:
            assert after == before
        else:
            assert after.status is TaskStatus.CANCELLED
            if before.attempts == 0:
                self.model.never_started.add(task_id)
        self.observe(after)

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.5, 5.0, 12.0]))
    def advance_time(self, seconds) -> None:
        self.run(self.clock.advance(seconds))

    @rule()
    def pause(self) -> None:
        assert self.run(self._settled(self.system.store.ask(PauseQueue(paused=True)))) is True
        if self.model.attempts_at_pause is None:
            tasks = self.run(self.system.store.ask(ListTasks(10_000))).tasks
            self.model.attempts_at_pause = {task.task_id: task.attempts for task in tasks}

    @rule()
    def resume(self) -> None:
        assert self.run(self._settled(self.system.store.ask(PauseQueue(paused=False)))) is False
        self.model.attempts_at_pause = None

    @rule(
        name=st.sampled_from(["a", "b"]),
        every=st.sampled_from([2, 5, 7]),
        params=parameters,
        owner=owners,
    )
    def put_schedule(self, name, every, params, owner) -> None:
        spec = ScheduleSpec(
            name,
            TYPE_OF[type(params)],
            ParametersObject.of(params),
            JobOptions(),
            Timing(every=every),
        )
        saved = self.run(self._settled(self.system.schedules.ask(PutSchedule(spec, owner))))
        assert saved is not None
        now = self.clock.now()
        self._end_span(name, now)
        self.model.schedule_owner.setdefault(name, owner)
        self.model.schedule_spans.setdefault(name, []).append((now, every, None))
        assert saved.schedule.next_run_at == now + timedelta(seconds=every)

    @precondition(lambda self: self.model.schedule_owner)
    @rule(data=st.data())
    def delete_schedule(self, data) -> None:
        name = data.draw(st.sampled_from(sorted(self.model.schedule_owner)))
        deleted = self.run(self._settled(self.system.schedules.ask(DeleteSchedule(name))))
        assert deleted is not None
        self._end_span(name, self.clock.now())
        del self.model.schedule_owner[name]

    def _end_span(self, name: str, now: datetime) -> None:
        spans = self.model.schedule_spans.get(name, [])
        if spans and spans[-1][2] is None:
            start, every, _ = spans[-1]
            spans[-1] = (start, every, now)

    @rule(index=st.integers(0, WORKERS - 1))
    def crash_a_worker(self, index) -> None:
        self.system.workers[index].tell(Kill())
        self.run(settle())

    @rule(params=parameters, job=options, owner=owners, index=st.integers(0, WORKERS - 1))
    def submit_while_a_worker_crashes(self, params, job, owner, index) -> None:
        """The crash lands while messages about the new task are still in flight."""
        message = SubmitTask(TYPE_OF[type(params)], ParametersObject.of(params), job, owner=owner)

        async def race() -> Task:
            submitted = asyncio.ensure_future(self.system.store.ask(message))
            await asyncio.sleep(0)
            self.system.workers[index].tell(Kill())
            task = await submitted
            await settle()
            return task

        task = self.run(race())
        assert isinstance(task, Task)
        self._record(task, owner)

    def observe(self, task: Task) -> None:
        last = self.model.seen[task.task_id]
        if last.status.terminal:
            assert task == last, "a finished task changed"
        else:
            assert progress_key(task) >= progress_key(last), f"{last} -> {task}"
        self.model.seen[task.task_id] = task

    @invariant()
    def every_promise_holds(self) -> None:
        page = self.run(self.system.store.ask(ListTasks(10_000)))
        tasks = page.tasks
        self._adopt_scheduled(tasks)
        assert [t.task_id for t in tasks] == list(self.model.seen), "a task was lost or added"
        for task in tasks:
            self.observe(task)
            assert task.attempts <= 1 + task.max_retries, "more attempts than allowed"
            # Checked where the last attempt started after the last run_at was set: a task
            # waiting for a retry, or cancelled while it waited, shows an earlier start.
            if task.started_at is not None and task.status in ATTEMPTED:
                assert task.started_at >= task.run_at - SLACK, "started before its run_at"
        self._check_dependencies(tasks)
        processing = [t for t in tasks if t.status is TaskStatus.PROCESSING]
        assert len(processing) <= WORKERS
        # A cancelled or finished attempt leaves its worker at once: none runs unseen.
        busy = self.run(self.system.dispatcher.ask(GetDispatcherStatus())).busy
        assert busy == len(processing)
        now = self.clock.now()
        # Ready: queued, due, and waiting for no other task.
        ready = [
            t
            for t in tasks
            if t.status is TaskStatus.QUEUED and t.run_at <= now + SLACK and not t.waiting_for
        ]
        paused_at = self.model.attempts_at_pause
        status = self.run(self.system.store.ask(GetStoreStatus()))
        assert status.paused is (paused_at is not None)
        if paused_at is not None:
            # While paused no attempt starts: submitted since, or waiting since, alike.
            for task in tasks:
                assert task.attempts == paused_at.get(task.task_id, 0), "started while paused"
        elif ready:
            # Work-conserving: while a ready task waits, no worker is idle.
            assert len(processing) == WORKERS
        # Whenever a worker took a task, no waiting ready task came before it.
        for started in processing:
            assert started.started_at is not None
            # A task released by its last dependency was ready from then, not its run_at.
            for waiting in (t for t in ready if not t.depends_on):
                if waiting.run_at < started.started_at - SLACK:
                    assert self._runs_before(started, waiting), (
                        f"{waiting.task_id} (priority {waiting.priority}) waited while "
                        f"{started.task_id} (priority {started.priority}) started"
                    )
        for owner in OWNERS:
            visible = self.run(self.system.store.ask(ListTasks(10_000, viewer=owner))).tasks
            expected = [t for t in self.model.seen if self.model.owner[t] == owner]
            assert [t.task_id for t in visible] == expected, f"{owner} saw another's task"
        for task_id in self.model.never_started:
            assert self.model.seen[task_id].started_at is None
            assert self.model.seen[task_id].attempts == 0

        now = self.clock.now()
        for name in self.model.schedule_spans:
            made = sorted(t.created_at for t in tasks if t.schedule == name)
            expected = self.model.due_times(name, now)
            assert len(made) == len(expected), f"schedule {name}: {made} for due times {expected}"
            for created, due in zip(made, expected, strict=True):
                assert abs(created - due) <= SLACK, f"schedule {name} made a task at {created}"
        listed = self.run(self.system.schedules.ask(ListSchedules()))
        assert [s.name for s in listed] == sorted(self.model.schedule_owner)

    def _check_dependencies(self, tasks: tuple[Task, ...]) -> None:
        """A task starts only once all it depends on completed; one failure cancels it."""
        by_id = {task.task_id: task for task in tasks}
        for task in tasks:
            assert task.depends_on == self.model.depends.get(task.task_id, ())
            if not task.depends_on:
                continue
            statuses = [by_id[d].status for d in task.depends_on]
            if task.attempts:
                assert all(s is TaskStatus.COMPLETED for s in statuses), "started too soon"
            if task.status is TaskStatus.QUEUED:
                assert task.waiting_for == tuple(
                    d
                    for d, s in zip(task.depends_on, statuses, strict=True)
                    if s is not TaskStatus.COMPLETED
                ), "waiting for the wrong tasks"
            if any(s in {TaskStatus.FAILED, TaskStatus.CANCELLED} for s in statuses):
                assert task.status is TaskStatus.CANCELLED, "a failed dependency did not cancel"
                assert task.attempts == 0

    def _adopt_scheduled(self, tasks: tuple[Task, ...]) -> None:
        """Tasks the schedules made since the last look join the model, in their places."""
        seen = self.model.seen
        if all(task.task_id in seen for task in tasks):
            return
        adopted: dict[UUID, Task] = {}
        for task in tasks:
            if task.task_id in seen:
                adopted[task.task_id] = seen[task.task_id]
                continue
            assert task.schedule is not None, "a task appeared that nobody submitted"
            assert task.attempts <= 1
            owner = self.model.schedule_owner.get(task.schedule)
            if owner is None:
                owner = self._owner_of_deleted(task.schedule)
            self.model.owner[task.task_id] = owner
            adopted[task.task_id] = task
        # A task the model knows and the listing lacks stays, last: the check then fails.
        adopted |= {task_id: task for task_id, task in seen.items() if task_id not in adopted}
        self.model.seen = adopted
        self.model.order = {task_id: place for place, task_id in enumerate(adopted)}

    def _owner_of_deleted(self, name: str) -> str:
        """The owner of a schedule deleted since it made a task: its earlier tasks say."""
        owners = {
            self.model.owner[t.task_id] for t in self.model.seen.values() if t.schedule == name
        }
        assert len(owners) == 1, f"cannot tell whose schedule {name} was"
        return owners.pop()

    def _runs_before(self, first: Task, second: Task) -> bool:
        """Whether the dispatcher orders ``first`` before ``second`` when both are ready."""
        order = self.model.order
        return (-first.priority, order[first.task_id]) < (-second.priority, order[second.task_id])

    def teardown(self) -> None:
        try:
            self.resume()
            for name in list(self.model.schedule_owner):
                self.run(self.system.schedules.ask(DeleteSchedule(name)))
            # Given time, every task ends: nothing is left queued or processing.
            for _ in range(2 * len(self.model.seen) + 2):
                tasks = self.run(self.system.store.ask(ListTasks(10_000))).tasks
                if all(task.status.terminal for task in tasks):
                    break
                self.run(self.clock.advance(70))
            tasks = self.run(self.system.store.ask(ListTasks(10_000))).tasks
            assert all(task.status.terminal for task in tasks)
            self.run(self.system.stop())
            forget_watched()
            leftover = self.run(_other_tasks())
            assert not leftover, f"asyncio tasks left behind: {leftover}"
        finally:
            self.runner.close()
            if self.system.settings.redis_url is not None:
                flush_prefix(self.system.settings.redis_url, self.redis_prefix)


async def _other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


TaskLifecycle.TestCase.settings = settings(deadline=None, max_examples=60, stateful_step_count=30)
test_task_lifecycle = TaskLifecycle.TestCase


def test_task_lifecycle_on_redis(redis_url):
    """The same machine and the same checks, with the state in Redis."""
    run_state_machine_as_test(
        lambda: TaskLifecycle(redis_url),
        settings=settings(deadline=None, max_examples=25, stateful_step_count=30),
    )
