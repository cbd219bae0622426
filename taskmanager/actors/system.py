"""Builds the actors, wires them together, and starts and stops them as one unit."""

from __future__ import annotations

import logging

from taskmanager.actors.clock import Clock, SystemClock
from taskmanager.actors.dispatcher import Dispatcher
from taskmanager.actors.events import EventHub
from taskmanager.actors.janitor import Janitor
from taskmanager.actors.ratelimiter import RateLimiter
from taskmanager.actors.runtime import Actor, Supervisor
from taskmanager.actors.store import TaskStore
from taskmanager.actors.worker import Worker
from taskmanager.config import Settings

logger = logging.getLogger(__name__)


class ActorSystem:
    """The task store, dispatcher, workers, event hub, rate limiter and janitor."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.supervisor = Supervisor()
        self.dispatcher = Dispatcher()
        self.events = EventHub()
        self.store = TaskStore(
            dispatcher=self.dispatcher,
            events=self.events,
            clock=self.clock,
            max_tasks=settings.max_tasks,
            result_ttl=settings.result_ttl,
        )
        self.workers = tuple(
            Worker(
                index,
                store=self.store,
                dispatcher=self.dispatcher,
                clock=self.clock,
                time_scale=settings.time_scale,
            )
            for index in range(settings.workers)
        )
        self.dispatcher.attach(self.workers)
        self.limiter = RateLimiter(settings.rate_limit, self.clock)
        self.janitor = Janitor(store=self.store, limiter=self.limiter, clock=self.clock)

    @property
    def actors(self) -> tuple[Actor, ...]:
        """Every actor, in the order they stop: producers of work before its consumers."""
        return (
            self.janitor,
            self.limiter,
            *self.workers,
            self.dispatcher,
            self.store,
            self.events,
        )

    @property
    def healthy(self) -> bool:
        """Whether every actor runs and none keeps crashing."""
        return self.supervisor.healthy and all(actor.alive for actor in self.actors)

    async def start(self) -> None:
        """Start every actor."""
        for actor in reversed(self.actors):
            actor.start(self.supervisor)

    async def stop(self, grace: float = 1.0) -> None:
        """Stop every actor, each within ``grace`` seconds."""
        for actor in self.actors:
            await actor.stop(grace)
        logger.info("actor system stopped")
