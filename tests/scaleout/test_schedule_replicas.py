"""Schedules and pause with several replicas on one Redis: one task per due time, always."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from support import FakeClock, current, settle, submit_to, unwatch, watch

from taskmanager.actors.messages import ListTasks, PauseQueue
from taskmanager.actors.model import JobOptions, ParametersObject, TaskStatus
from taskmanager.actors.schedules import GetSchedule, PutSchedule, ScheduleSpec, Timing
from taskmanager.actors.system import ActorSystem
from taskmanager.demo import ComputeSum


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
async def replicas(make_settings, clock: FakeClock):
    """Start replicas of one service on demand; every one still running stops at the end."""
    started: list[ActorSystem] = []
    settings = make_settings()

    async def start() -> ActorSystem:
        system = ActorSystem(settings, clock)
        watch(system.actors)
        await system.start()
        started.append(system)
        return system

    yield start
    for system in started:
        await system.stop()


class Fires:
    """Wraps a replica's scripts: counts its fire calls, and can make one hang."""

    def __init__(self, system: ActorSystem, hang: str | None = None, meanwhile: Any = None) -> None:
        self._scripts = system.schedules._scripts
        system.schedules._scripts = self
        self.hang = hang  # "before" sending, or "after" the answer came
        self.meanwhile = meanwhile  # what happens between reading the schedule and firing it
        self.partner: Fires | None = None  # whose meanwhile goes once this one's has run
        self.outcomes: Counter[str] = Counter()

    async def __call__(self, name: str, *args: Any) -> Any:
        if name == "fire" and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            if self.partner is not None:
                self.partner.meanwhile = None
            await meanwhile()
        if name == "fire" and self.hang == "before":
            await asyncio.Event().wait()
        reply = await self._scripts(name, *args)
        if name == "fire":
            self.outcomes[reply[0]] += 1
            if self.hang == "after":
                await asyncio.Event().wait()
        return reply


def every(seconds: int, name: str = "tick") -> PutSchedule:
    spec = ScheduleSpec(
        name,
        "compute_sum",
        ParametersObject.of(ComputeSum(numbers=(1,))),
        JobOptions(),
        Timing(seconds),
    )
    return PutSchedule(spec)


async def scheduled(system: ActorSystem, name: str = "tick") -> list:
    page = await system.store.ask(ListTasks(1000))
    return [task for task in page.tasks if task.schedule == name]


async def test_two_replicas_make_exactly_one_task_per_due_time(replicas, clock: FakeClock):
    a, b = await replicas(), await replicas()
    fires = Fires(a), Fires(b)
    await a.schedules.ask(every(10))
    for _ in range(3):
        await clock.advance(10)
    made = await scheduled(b)
    assert len(made) == 3
    assert len({task.created_at for task in made}) == 3
    assert sum((fires[0].outcomes + fires[1].outcomes).values()) == 3


async def test_a_replica_that_fires_a_due_time_another_just_fired_makes_nothing(
    replicas, clock: FakeClock
):
    a, b = await replicas(), await replicas()
    # Whichever timer fires first has read the due schedule; before its fire reaches
    # Redis, the other replica fires the same due time.
    fires_a = Fires(a, meanwhile=b.schedules._fire)
    fires_b = Fires(b, meanwhile=a.schedules._fire)
    fires_a.partner, fires_b.partner = fires_b, fires_a
    await a.schedules.ask(every(60))
    await clock.advance(60)
    assert fires_a.outcomes + fires_b.outcomes == {"created": 1, "taken": 1}
    assert len(await scheduled(a)) == 1


@pytest.mark.parametrize("hang", ["before", "after"])
async def test_a_replica_killed_mid_tick_leaves_exactly_one_task_for_that_due_time(
    replicas, clock: FakeClock, hang
):
    doomed = await replicas()
    Fires(doomed, hang=hang)
    unwatch(doomed.actors)  # it hangs: nothing to wait for there
    await doomed.schedules.ask(every(60))
    await clock.advance(60)  # its timer fires; its fire hangs before or after Redis ran it
    await doomed.stop()  # killed: the fire never finishes here
    survivor = await replicas()  # finds what is due and fires it, unless it was fired
    await settle()
    made = await scheduled(survivor)
    assert len(made) == 1
    schedule = await survivor.schedules.ask(GetSchedule("tick"))
    assert schedule is not None
    assert schedule.last_task_id == made[0].task_id
    assert (schedule.next_run_at - clock.now()).total_seconds() == 60
    await clock.advance(60)
    assert len(await scheduled(survivor)) == 2


async def test_schedules_survive_a_restart_and_missed_due_times_are_made_up_once(
    replicas, clock: FakeClock
):
    first = await replicas()
    await first.schedules.ask(every(60))
    await clock.advance(60)
    await first.stop()
    await clock.advance(600)  # nothing runs for ten due times
    again = await replicas()
    await settle()
    made = await scheduled(again)
    assert len(made) == 2  # the one before, and one for all that were missed
    assert made[1].created_at == clock.now()
    schedule = await again.schedules.ask(GetSchedule("tick"))
    assert schedule is not None
    assert (schedule.next_run_at - clock.now()).total_seconds() == 60


async def test_a_pause_holds_on_every_replica_and_across_a_restart(replicas, clock: FakeClock):
    a, b = await replicas(), await replicas()
    await a.store.ask(PauseQueue(paused=True))
    tasks = [await submit_to(system) for system in (a, b, b)]
    await clock.advance(30)
    assert [(await current(b, t)).status for t in tasks] == [TaskStatus.QUEUED] * 3
    await a.stop()
    await b.stop()
    c = await replicas()
    await clock.advance(30)
    assert [(await current(c, t)).status for t in tasks] == [TaskStatus.QUEUED] * 3
    d = await replicas()
    await d.store.ask(PauseQueue(paused=False))
    await clock.advance(1)  # c hears of it when its dispatcher next looks
    await clock.advance(10)
    assert [(await current(c, t)).status for t in tasks] == [TaskStatus.COMPLETED] * 3
