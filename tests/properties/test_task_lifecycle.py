"""A state machine over the running actor system, checked against a plain model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support import FakeClock, settle

from taskmanager.actors import ActorSystem, Kill
from taskmanager.actors.messages import CancelTask, GetTask, ListTasks, SubmitTask
from taskmanager.actors.model import ComputeSum, GenerateReport, SimulateError, Task, TaskStatus
from taskmanager.config import Settings

WORKERS = 3
# Between two looks a task may take several steps, but never a step back.
STAGE = {TaskStatus.QUEUED: 0, TaskStatus.PROCESSING: 1}

parameters = st.one_of(
    st.builds(
        ComputeSum, numbers=st.lists(st.integers(-100, 100), min_size=1, max_size=5).map(tuple)
    ),
    st.builds(GenerateReport, title=st.just("report"), sections=st.integers(1, 10)),
    st.builds(SimulateError, error=st.sampled_from(["value_error", "timeout", "crash"])),
)
TASK_TYPES = {
    ComputeSum: "compute_sum",
    GenerateReport: "generate_report",
    SimulateError: "simulate_error",
}


@dataclass
class Model:
    """What a client has seen: the last record of each task, and what must hold forever."""

    seen: dict[UUID, Task] = field(default_factory=dict)
    # Cancelled before a worker took it: it must never start.
    never_started: set[UUID] = field(default_factory=set)


class TaskLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.clock = FakeClock()
        config = Settings.model_validate({"workers": WORKERS, "result_ttl": 10**9})
        self.system = ActorSystem(config, self.clock)
        self.runner.run(self.system.start())
        self.model = Model()

    def run(self, coroutine):
        return self.runner.run(coroutine)

    async def _settled[T](self, coroutine) -> T:
        result = await coroutine
        await settle()
        return result

    @rule(params=parameters)
    def submit(self, params) -> None:
        message = SubmitTask(TASK_TYPES[type(params)], params)
        task = self.run(self._settled(self.system.store.ask(message)))
        assert isinstance(task, Task)
        assert task.task_id not in self.model.seen
        assert task.status is TaskStatus.QUEUED
        self.model.seen[task.task_id] = task

    @precondition(lambda self: self.model.seen)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        task_id = data.draw(st.sampled_from(list(self.model.seen)))
        before = self.run(self.system.store.ask(GetTask(task_id)))
        after = self.run(self._settled(self.system.store.ask(CancelTask(task_id))))
        assert before is not None
        assert after is not None
        if before.status.terminal:
            assert after == before
        else:
            assert after.status is TaskStatus.CANCELLED
            if before.status is TaskStatus.QUEUED:
                self.model.never_started.add(task_id)
        self.observe(after)

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.5, 5.0, 12.0]))
    def advance_time(self, seconds) -> None:
        self.run(self.clock.advance(seconds))

    @rule(index=st.integers(0, WORKERS - 1))
    def crash_a_worker(self, index) -> None:
        self.system.workers[index].tell(Kill())
        self.run(settle())

    @rule(params=parameters, index=st.integers(0, WORKERS - 1))
    def submit_while_a_worker_crashes(self, params, index) -> None:
        """The crash lands while messages about the new task are still in flight."""
        message = SubmitTask(TASK_TYPES[type(params)], params)

        async def race() -> Task:
            submitted = asyncio.ensure_future(self.system.store.ask(message))
            await asyncio.sleep(0)
            self.system.workers[index].tell(Kill())
            task = await submitted
            await settle()
            return task

        task = self.run(race())
        assert isinstance(task, Task)
        self.model.seen[task.task_id] = task

    def observe(self, task: Task) -> None:
        last = self.model.seen[task.task_id]
        if last.status.terminal:
            assert task == last, "a finished task changed"
        else:
            assert STAGE.get(task.status, 2) >= STAGE[last.status], (
                f"{last.status} -> {task.status}"
            )
        self.model.seen[task.task_id] = task

    @invariant()
    def every_task_is_kept_once_and_moves_only_forward(self) -> None:
        tasks = self.run(self.system.store.ask(ListTasks()))
        assert [t.task_id for t in tasks] == list(self.model.seen), "a task was lost or added"
        for task in tasks:
            self.observe(task)
        processing = [t for t in tasks if t.status is TaskStatus.PROCESSING]
        assert len(processing) <= WORKERS
        # Work-conserving: while tasks wait, no worker is idle (a cancel frees one at once).
        if any(t.status is TaskStatus.QUEUED for t in tasks):
            assert len(processing) == WORKERS
        for task_id in self.model.never_started:
            assert self.model.seen[task_id].started_at is None

    def teardown(self) -> None:
        try:
            # Given time, every task ends: nothing is left queued or processing.
            for _ in range(len(self.model.seen)):
                tasks = self.run(self.system.store.ask(ListTasks()))
                if all(task.status.terminal for task in tasks):
                    break
                self.run(self.clock.advance(30))
            tasks = self.run(self.system.store.ask(ListTasks()))
            assert all(task.status.terminal for task in tasks)
            self.run(self.system.stop())
            leftover = self.run(_other_tasks())
            assert not leftover, f"asyncio tasks left behind: {leftover}"
        finally:
            self.runner.close()


async def _other_tasks() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


TaskLifecycle.TestCase.settings = settings(deadline=None, max_examples=60, stateful_step_count=30)
test_task_lifecycle = TaskLifecycle.TestCase
