"""The event hub and its in-memory log, through their messages."""

from __future__ import annotations

import uuid

from taskmanager.actors import events as events_module
from taskmanager.actors.events import EventHub, MemoryLog, Subscribe, TaskChanged
from taskmanager.actors.runtime import Supervisor


def _drain(queue):
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_subscriber_too_far_behind_the_replay_buffer_gets_a_resync():
    hub = EventHub(MemoryLog(3))
    hub.start(Supervisor())
    try:
        for _ in range(5):
            hub.tell(TaskChanged("removed", uuid.uuid4(), None))
        behind = await hub.ask(Subscribe(last_event_id=f"{hub.epoch}-1"))
        assert isinstance(behind.queue.get_nowait(), events_module.Resync)
        recent = await hub.ask(Subscribe(last_event_id=f"{hub.epoch}-3"))
        replayed = [event.id for event in _drain(recent.queue)]
        assert replayed == [f"{hub.epoch}-4", f"{hub.epoch}-5"]
    finally:
        await hub.stop()
