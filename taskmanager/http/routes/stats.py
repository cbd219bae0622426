"""Figures for people (/stats, JSON) and for Prometheus (/metrics, text)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from taskmanager.actors.events import GetSubscriberCount
from taskmanager.actors.messages import (
    GetDispatcherStatus,
    GetStoreStatus,
    StoreStatus,
    Viewer,
)
from taskmanager.actors.model import TaskStatus
from taskmanager.actors.system import ActorSystem
from taskmanager.http.admission import caller_of
from taskmanager.http.schemas import ErrorBody

router = APIRouter(tags=["operations"])


class WorkerCounts(BaseModel):
    """The worker pool."""

    total: int
    busy: int
    idle: int


class MinuteCount(BaseModel):
    """Tasks completed in the minute that starts at ``minute``."""

    minute: datetime
    count: int


class StatusCounts(BaseModel):
    """Tasks kept, per status."""

    queued: int
    processing: int
    completed: int
    failed: int
    cancelled: int


class Stats(BaseModel):
    """The system at a glance."""

    queue_depth: int = Field(
        description="Tasks queued: ready, delayed, waiting for a retry or for their dependencies"
    )
    workers: WorkerCounts
    counts: StatusCounts
    completed_per_minute: list[MinuteCount]
    paused: bool = Field(description="Whether the queue is paused: no attempt starts")


async def _figures(system: ActorSystem, viewer: Viewer) -> tuple[tuple[int, int], StoreStatus]:
    """The workers (in all, busy) of the whole service, and the store's figures."""
    dispatcher, store = await asyncio.gather(
        system.dispatcher.ask(GetDispatcherStatus()), system.store.ask(GetStoreStatus(viewer))
    )
    # With Redis the store knows every live replica's workers; else this process is all.
    return store.workers or (dispatcher.workers, dispatcher.busy), store


@router.get(
    "/stats",
    summary="Queue depth, workers, tasks per status, completions per minute",
    response_model=Stats,
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "queue_depth": 3,
                        "workers": {"total": 5, "busy": 5, "idle": 0},
                        "counts": {
                            "queued": 3,
                            "processing": 5,
                            "completed": 40,
                            "failed": 2,
                            "cancelled": 1,
                        },
                        "completed_per_minute": [
                            {"minute": "2026-11-28T06:00:00Z", "count": 12},
                            {"minute": "2026-11-28T06:01:00Z", "count": 28},
                        ],
                        "paused": False,
                    }
                }
            }
        }
    },
)
async def get_stats(request: Request) -> Stats:
    """The figures as JSON; not rate limited."""
    viewer = caller_of(request.scope).viewer
    (workers, busy), store = await _figures(request.app.state.system, viewer)
    return Stats(
        # Every task waiting for a worker: ready, delayed, or waiting for a retry.
        queue_depth=store.counts[TaskStatus.QUEUED],
        workers=WorkerCounts(
            total=workers,
            busy=busy,
            idle=workers - busy,
        ),
        counts=StatusCounts(**{status.value: count for status, count in store.counts.items()}),
        completed_per_minute=[
            MinuteCount(minute=minute, count=count) for minute, count in store.completed_per_minute
        ],
        paused=store.paused,
    )


METRICS_EXAMPLE = """# HELP taskmanager_queue_depth Tasks waiting for a worker.
# TYPE taskmanager_queue_depth gauge
taskmanager_queue_depth 3
"""


@router.get(
    "/metrics",
    summary="The same figures in Prometheus text format",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}},
        403: {"model": ErrorBody, "description": "With API keys: a key that is not an admin's"},
    },
)
async def get_metrics(request: Request) -> PlainTextResponse:
    """Prometheus exposition format 0.0.4; with API keys, for admin keys only."""
    caller = caller_of(request.scope)
    if caller.key_name is not None and not caller.admin:
        return PlainTextResponse(
            '{"detail":"the metrics are for admin keys only"}',
            status_code=403,
            media_type="application/json",
        )
    system: ActorSystem = request.app.state.system
    (workers, busy), store = await _figures(system, None)
    subscribers = await system.events.ask(GetSubscriberCount())
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: dict[str, int]) -> None:
        lines.extend((f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"))
        lines.extend(f"{name}{labels} {value}" for labels, value in samples.items())

    metric(
        "taskmanager_queue_depth",
        "gauge",
        "Tasks queued: ready, delayed, waiting for a retry or for the tasks they depend on.",
        {"": store.counts[TaskStatus.QUEUED]},
    )
    metric(
        "taskmanager_queue_paused",
        "gauge",
        "1 while the queue is paused (no attempt starts), else 0.",
        {"": int(store.paused)},
    )
    metric(
        "taskmanager_workers",
        "gauge",
        "Workers in the pool, by state.",
        {
            '{state="busy"}': busy,
            '{state="idle"}': workers - busy,
        },
    )
    metric(
        "taskmanager_tasks",
        "gauge",
        "Tasks kept in the store, by status.",
        {f'{{status="{status}"}}': count for status, count in store.counts.items()},
    )
    metric(
        "taskmanager_tasks_finished_total",
        "counter",
        "Tasks that reached a terminal status since start, by status.",
        {f'{{status="{status}"}}': count for status, count in store.finished_total.items()},
    )
    metric(
        "taskmanager_retries_total",
        "counter",
        "Failed attempts that were queued for another attempt, since start.",
        {"": store.retries_total},
    )
    metric(
        "taskmanager_attempt_timeouts_total",
        "counter",
        "Attempts that failed as timeout (outlived their timeout, or a job's own), since start.",
        {"": store.timeouts_total},
    )
    metric(
        "taskmanager_long_poll_waiters",
        "gauge",
        "Clients waiting on a change, on this replica.",
        {"": store.waiters},
    )
    metric(
        "taskmanager_event_streams",
        "gauge",
        "Open event streams, on this replica.",
        {"": subscribers},
    )
    metric(
        "taskmanager_actor_restarts_total",
        "counter",
        "Actor crashes that their supervisor resumed, on this replica.",
        {"": system.supervisor.crash_count},
    )
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )
