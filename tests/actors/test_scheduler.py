"""The in-memory scheduler's timer: it sleeps until a due time, never spins."""

from __future__ import annotations

from support import FakeClock

from taskmanager.actors.messages import BeginDrain, ListTasks
from taskmanager.actors.model import JobOptions, ParametersObject
from taskmanager.actors.schedules import GetSchedule, PutSchedule, ScheduleSpec, Timing
from taskmanager.demo import ComputeSum


def every(seconds: int) -> PutSchedule:
    spec = ScheduleSpec(
        "tick",
        "compute_sum",
        ParametersObject.of(ComputeSum(numbers=(1,))),
        JobOptions(),
        Timing(seconds),
    )
    return PutSchedule(spec)


async def test_a_schedule_due_while_the_service_shuts_down_makes_nothing_and_waits_quietly(
    system, clock: FakeClock
):
    await system.schedules.ask(every(1))
    await system.store.ask(BeginDrain())
    handled = system.schedules.handled
    await clock.advance(1)  # settles: a timer firing again and again never would
    await clock.advance(5)
    assert system.schedules.handled - handled <= 2
    assert (await system.store.ask(ListTasks(10))).tasks == ()
    schedule = await system.schedules.ask(GetSchedule("tick"))
    assert schedule is not None
    assert schedule.last_task_id is None
