"""``taskmanager worker``: a process that runs tasks taken from Redis, and serves no HTTP.

It runs the actor system as an API replica does, without the API in front: the store
gateway (whose heartbeat registers this process's workers, so that ``/stats`` counts them,
and hands the tasks of a process that died to others), the dispatcher that claims tasks
from the shared queue, the workers, the event reader (a cancel sent to any replica reaches
the job here) and the janitor. API replicas started with ``TASKMANAGER_WORKERS=0`` then
only serve, and the service's capacity grows by starting more of these.

SIGTERM or SIGINT stops it as it stops a replica: no new task is claimed, running ones
get ``TASKMANAGER_SHUTDOWN_GRACE`` seconds to finish, and those still running then go
back to the queue for another process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from taskmanager.actors.messages import CheckHealth
from taskmanager.actors.runtime import ActorStoppedError, MailboxFullError, UnavailableError
from taskmanager.actors.system import ActorSystem
from taskmanager.config import ConfigurationError, Settings, load_settings
from taskmanager.healthfile import remove, touch

logger = logging.getLogger("taskmanager.worker")

#: How long a health check waits for the store (as the API's /healthz does).
HEALTH_SECONDS = 1.5
#: A health check every this share of the lease: a few missed ones stay well within it.
HEALTH_SHARE = 0.25
_NOT_ANSWERING = (TimeoutError, ActorStoppedError, MailboxFullError, UnavailableError)


def run_worker(*, health_file: Path | None) -> None:
    """Check the settings, then run workers until SIGTERM or SIGINT."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        sys.exit(f"taskmanager worker: {exc}")
    if settings.redis_url is None:
        sys.exit(
            "taskmanager worker: set TASKMANAGER_REDIS_URL: a worker process takes its "
            "tasks from the Redis that the API replicas share"
        )
    if settings.workers == 0:
        sys.exit("taskmanager worker: invalid TASKMANAGER_WORKERS=0: it would run nothing")
    logging.basicConfig(
        level=logging.WARNING,
        format="%(levelname)-9s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("taskmanager").setLevel(logging.INFO)
    _run(_work(settings, health_file))


def _run(work: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed, as uvicorn runs the API replicas."""
    try:
        import uvloop  # noqa: PLC0415 - optional, as in uvicorn
    except ImportError:
        asyncio.run(work)
        return
    uvloop.run(work)


async def _work(settings: Settings, health_file: Path | None) -> None:
    system = ActorSystem(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await system.start()
    logger.info(
        "worker process %s: %d workers taking tasks from Redis (prefix %r)",
        system.replica,
        settings.workers,
        settings.redis_prefix,
    )
    health = asyncio.create_task(_keep_health_file(system, health_file), name="worker:health")
    try:
        await stopping.wait()
        logger.info("stopping: running tasks get %g s, then go back", settings.shutdown_grace)
    finally:
        health.cancel()
        await asyncio.wait({health})
        if health_file is not None:
            remove(health_file)
        await system.shutdown()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _keep_health_file(system: ActorSystem, health_file: Path | None) -> None:
    """Touch the health file each time the actors run and the store reaches Redis."""
    if health_file is None:
        return
    interval = system.settings.lease * HEALTH_SHARE
    healthy = True
    while True:
        reason = await _unhealthy(system)
        if reason is None:
            touch(health_file)
        if (reason is None) != healthy:
            healthy = reason is None
            if healthy:
                logger.info("healthy again")
            else:
                logger.warning("unhealthy: %s; the health file is no longer touched", reason)
        await system.clock.sleep(interval)


async def _unhealthy(system: ActorSystem) -> str | None:
    """Why this process is not healthy now, or None when it is."""
    if not system.healthy:
        return "an actor stopped or keeps crashing"
    try:
        if await system.store.ask(CheckHealth(), timeout=HEALTH_SECONDS):
            return None
    except _NOT_ANSWERING:
        return "the store does not answer"
    return "the store cannot reach Redis"
