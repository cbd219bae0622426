"""Pausing at the store: a task handed out just before the pause does not start either."""

from __future__ import annotations

import pytest
from support import FakeClock, current, settle, submit_to

from taskmanager.actors.messages import GetStoreStatus, PauseQueue
from taskmanager.actors.model import TaskStatus

pytestmark = pytest.mark.backends("memory", "redis")


async def test_a_task_on_its_way_to_a_worker_when_the_queue_pauses_waits(system, clock: FakeClock):
    # Not settled in between: the dispatcher hands the task out before it hears of the pause.
    task = await submit_to(system)
    assert await system.store.ask(PauseQueue(paused=True)) is True
    # With Redis the start may have run before the pause did: such an attempt runs on, as
    # running ones do. One still queued once the pause has answered must never start.
    at_pause = await current(system, task)
    await settle()
    await clock.advance(30)
    after = await current(system, task)
    assert after.attempts == at_pause.attempts
    assert (await system.store.ask(GetStoreStatus())).paused is True
    assert await system.store.ask(PauseQueue(paused=False)) is False
    await clock.advance(1)
    resumed = await current(system, task)
    assert resumed.status is not TaskStatus.QUEUED
    assert resumed.attempts == 1
