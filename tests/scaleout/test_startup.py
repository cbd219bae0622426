"""A replica's start-up while Redis cannot be reached: it waits, says so, and can be stopped."""

from __future__ import annotations

import asyncio
import logging

from taskmanager.actors.redis import backend
from taskmanager.actors.system import ActorSystem
from taskmanager.config import Settings

NOTHING_LISTENS = "redis://127.0.0.1:1/0"


class WaitingLines(logging.Handler):
    """Sets ``enough`` once the start-up has said ``count`` times that it waits for Redis."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.enough = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "start-up is waiting for Redis" in record.getMessage():
            self.count -= 1
            if self.count <= 0:
                self.enough.set()


async def test_start_up_waits_for_redis_saying_so_again_and_again_until_told_to_stop(
    monkeypatch, caplog
):
    monkeypatch.setattr(backend, "START_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(backend, "START_LOG_SECONDS", 0.05)
    system = ActorSystem(Settings.model_validate({"redis_url": NOTHING_LISTENS}))
    caplog.set_level(logging.INFO, "taskmanager")
    lines = WaitingLines(3)
    monkeypatch.setattr(backend.logger, "handlers", [lines])
    starting = asyncio.create_task(system.start())
    async with asyncio.timeout(5):
        await lines.enough.wait()
    assert not starting.done()
    assert "connecting to 127.0.0.1:1" in caplog.text  # the reason, from the connection
    system.begin_shutdown()
    async with asyncio.timeout(1):
        assert await starting is False
    assert not any(actor.alive for actor in system.actors)
    await system.shutdown()  # nothing to drain: it only lets go of the connections
    assert "actor system stopped" in caplog.text


async def test_a_stop_asked_before_start_up_starts_nothing():
    system = ActorSystem(Settings.model_validate({"redis_url": NOTHING_LISTENS}))
    system.begin_shutdown()
    assert await system.start() is False
    assert not any(actor.alive for actor in system.actors)
    await system.shutdown()
