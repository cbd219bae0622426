"""Builds the actors, wires them together, and starts and stops them as one unit."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from typing import Protocol

from taskmanager.actors.clock import Clock, SystemClock
from taskmanager.actors.dispatcher import Dispatcher
from taskmanager.actors.events import CloseStreams, EventHub
from taskmanager.actors.executors import JobThreads, ProcessRunner
from taskmanager.actors.janitor import Janitor
from taskmanager.actors.messages import (
    BeginDrain,
    GetTask,
    ListTasks,
    StopDispatching,
    StopUnfinished,
    WhenIdle,
)
from taskmanager.actors.model import TaskStatus
from taskmanager.actors.processes import ProcessPool, ProcessPoolRunner
from taskmanager.actors.queue import MemoryQueue
from taskmanager.actors.ratelimiter import RateLimiter
from taskmanager.actors.runtime import Actor, Supervisor, UnavailableError
from taskmanager.actors.schedules import Scheduler
from taskmanager.actors.store import TaskStore
from taskmanager.actors.worker import Worker
from taskmanager.config import Settings

logger = logging.getLogger(__name__)

#: Most tasks the drain reads back to log how the running ones ended.
DRAIN_REPORT_LIMIT = 10_000


class SharedState(Protocol):
    """A backend that keeps the service's state outside this process (Redis)."""

    def actors(self) -> tuple[Actor, ...]:
        """Actors the backend adds (the event reader), in the order they stop."""
        ...

    async def wait_reachable(self) -> None:
        """Return once the shared state answers (waiting as long as it takes)."""
        ...

    async def close(self) -> None:
        """Let go of the connections, once every actor has stopped."""
        ...


class ActorSystem:
    """The task store, dispatcher, workers, event hub, rate limiter, janitor and schedules.

    The HTTP layer holds this object and talks to ``store``, ``events``, ``limiter`` and
    ``dispatcher`` only by messages (``taskmanager.actors.messages``). Those hold the
    service's state; which implementation stands behind each is decided here: this
    process's memory, or Redis when ``TASKMANAGER_REDIS_URL`` is set.
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        *,
        processes: ProcessRunner | None = None,
    ) -> None:
        self.settings = settings
        #: The task types this process validates and runs (``TASKMANAGER_TASKS``).
        self.task_types = settings.tasks
        self.clock = clock or SystemClock()
        self.supervisor = Supervisor()
        #: This process's name among the replicas; part of every lease it hands out.
        self.replica = secrets.token_hex(6)
        self._shared: SharedState | None = None
        if settings.redis_url is None:
            self.dispatcher = Dispatcher(self.clock, MemoryQueue())
            self.events = EventHub()
            self.store: Actor = TaskStore(
                dispatcher=self.dispatcher,
                events=self.events,
                clock=self.clock,
                max_tasks=settings.max_tasks,
                result_ttl=settings.result_ttl,
                retry_backoff=settings.retry_backoff,
                rng=rng,
                max_bytes=settings.max_store_mb * 1024 * 1024,
            )
            self.limiter: Actor = RateLimiter(settings.rate_limit, self.clock)
            self.schedules: Actor = Scheduler(store=self.store, clock=self.clock)
        else:
            # Imported only here: redis-py is the optional extra "redis".
            from taskmanager.actors.redis.backend import RedisState  # noqa: PLC0415

            shared = RedisState(settings, self.replica, self.clock)
            self._shared = shared
            self.dispatcher = Dispatcher(self.clock, shared.queue)
            self.events = EventHub(shared.log)
            self.store = shared.store(self.dispatcher, rng)
            self.limiter = shared.limiter()
            self.schedules = shared.scheduler()
            shared.attach(hub=self.events, store=self.store)
        # Where thread jobs run, and where process jobs do: a process of their own per
        # worker, none started until a process job runs.
        self.threads = JobThreads()
        if processes is None and settings.workers > 0:
            processes = ProcessPoolRunner(ProcessPool(settings.workers))
        self.processes = processes
        self.workers = tuple(
            Worker(
                index,
                store=self.store,
                dispatcher=self.dispatcher,
                clock=self.clock,
                time_scale=settings.time_scale,
                task_types=self.task_types,
                threads=self.threads,
                processes=processes,
                replica=self.replica,
            )
            for index in range(settings.workers)
        )
        self.dispatcher.attach(self.workers)
        self.janitor = Janitor(store=self.store, limiter=self.limiter, clock=self.clock)
        self._drain: asyncio.Task[None] | None = None
        # Waiting for Redis at start-up; cancelled by a stop asked for meanwhile.
        self._connecting: asyncio.Task[None] | None = None
        self._stop_asked = False
        self._started = False

    @property
    def actors(self) -> tuple[Actor, ...]:
        """Every actor, in the order they stop: producers of work before its consumers."""
        shared = self._shared.actors() if self._shared is not None else ()
        return (
            self.schedules,
            self.janitor,
            self.limiter,
            *shared,
            *self.workers,
            self.dispatcher,
            self.store,
            self.events,
        )

    @property
    def store_counts_submissions(self) -> bool:
        """Whether the store takes ``SubmitCounted``: counts and makes a submission at once.

        On Redis one script does both: one round trip where a check and a submission took two.
        """
        return self._shared is not None

    @property
    def healthy(self) -> bool:
        """Whether every actor runs and none keeps crashing."""
        return self.supervisor.healthy and all(actor.alive for actor in self.actors)

    async def start(self) -> bool:
        """Start every actor, once the shared state answers; False: told to stop before that.

        With Redis this waits until Redis answers, as long as it takes, unless
        ``begin_shutdown`` is called meanwhile: then nothing starts, and ``stop`` lets go
        of the connections.
        """
        if self._shared is not None:
            if self._stop_asked:
                return False
            connecting = asyncio.create_task(self._shared.wait_reachable(), name="system:connect")
            self._connecting = connecting
            try:
                await asyncio.wait({connecting})
            finally:
                if not connecting.done():  # this start itself was cancelled
                    connecting.cancel()
                    await asyncio.wait({connecting})
            if connecting.cancelled():
                logger.info("stopped before Redis could be reached")
                return False
            connecting.result()  # a failure other than "unreachable" stops start-up
        for actor in reversed(self.actors):
            actor.start(self.supervisor)
        self._started = True
        return True

    def begin_shutdown(self) -> None:
        """Start draining, once: new tasks are refused and every waiting client is answered.

        Before the actors have started there is nothing to drain: a start still waiting
        for Redis gives up at once.
        """
        self._stop_asked = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if not self._started:
            return
        if self._drain is None:
            self._drain = asyncio.create_task(self._drain_work(), name="system:drain")

    async def shutdown(self) -> None:
        """Drain (running tasks get the shutdown grace period), then stop every actor.

        The actors stop whatever the drain managed: a drain that fails is logged.
        """
        self.begin_shutdown()
        if self._drain is None:  # never started: nothing to drain
            await self.stop()
            return
        try:
            await self._drain
        except UnavailableError as error:
            logger.warning("shutdown: the drain did not finish, Redis cannot be reached: %s", error)
        except Exception:
            logger.exception("shutdown: the drain did not finish; stopping the actors anyway")
        finally:
            await self.stop()

    async def _drain_work(self) -> None:
        grace = self.settings.shutdown_grace
        # With Redis, the tasks processing elsewhere are not this replica's to report.
        running = (
            ()
            if self._shared is not None
            else (await self.store.ask(ListTasks(DRAIN_REPORT_LIMIT, TaskStatus.PROCESSING))).tasks
        )
        await self.dispatcher.ask(StopDispatching())
        for task in await self.store.ask(BeginDrain()):
            logger.warning(
                "shutdown: task %s was queued; cancelled before it started", task.task_id
            )
        self.events.tell(CloseStreams())
        idle = await self.dispatcher.ask(WhenIdle())
        try:
            async with asyncio.timeout(grace):
                await idle
        except TimeoutError:
            for task in await self.store.ask(StopUnfinished()):
                logger.warning(
                    "shutdown: task %s still running after the %s s grace period; %s",
                    task.task_id,
                    grace,
                    "cancelled"
                    if task.status is TaskStatus.CANCELLED
                    else "back in the queue for another replica",
                )
        for task in running:
            final = await self.store.ask(GetTask(task.task_id))
            if final is not None and final.status is not TaskStatus.CANCELLED:
                logger.info(
                    "shutdown: task %s %s within the grace period", task.task_id, final.status
                )

    async def stop(self, grace: float = 1.0) -> None:
        """Stop every actor, each within ``grace`` seconds."""
        for actor in self.actors:
            await actor.stop(grace)
        if self.processes is not None:
            await self.processes.close()
        if self._shared is not None:
            await self._shared.close()
        logger.info("actor system stopped")
