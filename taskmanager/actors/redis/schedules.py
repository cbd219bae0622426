"""Schedules in Redis: they survive a replica's restart, and any replica may fire them.

Every replica sets one timer for the earliest due time it knows of, and looks at Redis
again at least every ``RECHECK_SECONDS`` (a schedule made on another replica, which may
have died since). Whichever replica's timer fires first runs the fire script, which
makes the task and moves the schedule on in one step; the others find it moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from redis.asyncio import Redis

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import Viewer
from taskmanager.actors.redis.connection import Scripts, reachable
from taskmanager.actors.redis.records import from_us, pairs, parameters_json, parse_parameters
from taskmanager.actors.redis.records import to_us as micros
from taskmanager.actors.runtime import Actor, ActorStoppedError, Later
from taskmanager.actors.schedules import (
    MAX_SCHEDULES,
    DeleteSchedule,
    GetSchedule,
    ListSchedules,
    PutSchedule,
    Saved,
    Schedule,
    ScheduleSpec,
    TooManySchedules,
)

logger = logging.getLogger(__name__)

#: Seconds between looks at Redis when no due time is nearer.
RECHECK_SECONDS: Final = 5.0
#: Seconds before trying again after Redis could not be reached.
RETRY_SECONDS: Final = 1.0
#: Schedules fired per look; more due at once are fired on the next, at once.
FIRE_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class _Due:
    """The timer fired: look for due schedules."""


@dataclass(frozen=True, slots=True)
class _Arm:
    """Wake at ``due`` at the latest (sooner if the timer is set sooner already)."""

    due: datetime
    replace: bool = False


def schedule_from(fields: Mapping[str, str]) -> Schedule:
    """The schedule a record describes."""
    every, timeout = fields.get("every", ""), fields.get("timeout", "")
    created, due = from_us(fields["created"]), from_us(fields["due"])
    assert created is not None  # noqa: S101 - every record has both
    assert due is not None  # noqa: S101
    cron = fields.get("cron") or None
    return Schedule(
        name=fields["name"],
        task_type=fields["type"],
        parameters=parse_parameters(fields["params"]),
        created_at=created,
        next_run_at=due,
        every=int(every) if every else None,
        cron=cron,
        timezone=(fields.get("tz") or "UTC") if cron else None,
        priority=int(fields.get("priority") or 0),
        delay=int(fields.get("delay_us") or 0) / 1_000_000,
        timeout=float(timeout) if timeout else None,
        max_retries=int(fields.get("max_retries") or 0),
        last_task_id=uuid.UUID(fields["last_task"]) if fields.get("last_task") else None,
        last_run_at=from_us(fields.get("last_run", "")),
    )


def _spec_fields(spec: ScheduleSpec) -> list[str]:
    options, timing = spec.options, spec.timing
    values = {
        "type": str(spec.task_type),
        "params": parameters_json(spec.parameters),
        "priority": str(options.priority),
        "delay_us": str(int(options.delay * 1_000_000)),
        "timeout": "" if options.timeout is None else repr(options.timeout),
        "max_retries": str(options.max_retries),
        "every": "" if timing.every is None else str(timing.every),
        "cron": timing.cron or "",
        "tz": timing.timezone if timing.cron else "",
    }
    return [part for item in values.items() for part in item]


class RedisScheduler(Actor):
    """Answers the schedules' messages from Redis, and fires the due ones from here too."""

    def __init__(
        self, *, redis: Redis, scripts: Scripts, prefix: str, clock: Clock, max_tasks: int
    ) -> None:
        super().__init__("schedules")
        self._redis = redis
        self._scripts = scripts
        self._prefix = prefix
        self._clock = clock
        self._max_tasks = max_tasks
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: datetime | None = None

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def on_start(self) -> None:
        """Fire what came due while no replica ran (once each), and set the timer."""
        self.tell(_Due())

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one schedules message."""
        match message:
            case PutSchedule(spec=spec, owner=owner, viewer=viewer):
                return Later(self._put(spec, owner, viewer))
            case GetSchedule(name=name, viewer=viewer):
                return Later(self._get(name, viewer))
            case ListSchedules(viewer=viewer):
                return Later(self._list(viewer))
            case DeleteSchedule(name=name, viewer=viewer):
                return Later(self._delete(name, viewer))
            case _Due():
                self._stop_timer()
                return Later(self._fire())
            case _Arm(due=due, replace=replace):
                now = self._clock.now()
                due = min(due, now + timedelta(seconds=RECHECK_SECONDS))
                if replace or self._timer_due is None or due < self._timer_due:
                    self._set_timer(due)
            case _:
                raise TypeError(f"schedules got an unknown message {message!r}")
        return None

    # --- what clients ask -----------------------------------------------------------------

    async def _put(
        self, spec: ScheduleSpec, owner: str | None, viewer: Viewer
    ) -> Saved | TooManySchedules | None:
        now = self._clock.now()
        first = spec.timing.first(now)
        reply = await self._scripts(
            "schedule_put",
            spec.name,
            viewer or "",
            owner or "",
            micros(now),
            micros(first),
            MAX_SCHEDULES,
            *_spec_fields(spec),
        )
        if not reply:
            return None
        if reply == ["full"]:
            return TooManySchedules(MAX_SCHEDULES)
        self._arm(first)
        return Saved(schedule_from(pairs(reply[1:])), created=reply[0] == "created")

    async def _get(self, name: str, viewer: Viewer) -> Schedule | None:
        with reachable():
            fields: dict[str, str] = await self._redis.hgetall(  # type: ignore[assignment]
                self._key("schedule", name)
            )
        if not fields or (viewer is not None and fields.get("owner") != viewer):
            return None
        return schedule_from(fields)

    async def _list(self, viewer: Viewer) -> tuple[Schedule, ...]:
        with reachable():
            names: list[str] = await self._redis.zrange(self._key("schedules"), 0, -1)  # type: ignore[assignment]
            records = await self._records(sorted(names))
        return tuple(
            schedule_from(fields)
            for fields in records
            if fields and (viewer is None or fields.get("owner") == viewer)
        )

    async def _records(self, names: Sequence[str]) -> list[dict[str, str]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._key("schedule", name))
            records: list[dict[str, str]] = await pipe.execute()
        return records

    async def _delete(self, name: str, viewer: Viewer) -> Schedule | None:
        reply = await self._scripts("schedule_delete", name, viewer or "")
        return schedule_from(pairs(reply)) if reply else None

    # --- firing ---------------------------------------------------------------------------

    async def _fire(self) -> None:
        """Make the task of every due schedule (the ones no other replica fired first)."""
        now = self._clock.now()
        wake = now + timedelta(seconds=RETRY_SECONDS)
        try:
            wake = await self._fire_due(now)
        except Exception as error:  # noqa: BLE001 - whatever failed, the timer goes on
            logger.warning("schedules: could not fire the due schedules; retrying: %r", error)
        self._arm(wake, replace=True)

    async def _fire_due(self, now: datetime) -> datetime:
        """Fire what is due at ``now``; when to look again."""
        with reachable():
            names: list[str] = await self._redis.zrangebyscore(  # type: ignore[assignment]
                self._key("schedules"), "-inf", micros(now), start=0, num=FIRE_BATCH
            )
            records = await self._records(names)
        full_for: float | None = None
        for fields in records:
            if not fields or "due" not in fields:
                continue  # deleted meanwhile
            schedule = schedule_from(fields)
            following = schedule.timing.following(schedule.next_run_at, now)
            reply = await self._scripts(
                "fire",
                schedule.name,
                fields["due"],
                fields.get("rev", ""),
                micros(following),
                uuid.uuid4(),
                self._max_tasks,
            )
            if reply[0] == "full":
                logger.warning("schedule %s: the store is full; trying again", schedule.name)
                full_for = max(full_for or 0.0, int(reply[1]) / 1_000_000)
        if len(names) == FIRE_BATCH:
            return now  # more are due: at once
        if full_for is not None:
            return now + timedelta(seconds=full_for)
        with reachable():
            first: list[tuple[str, float]] = await self._redis.zrange(  # type: ignore[assignment]
                self._key("schedules"), 0, 0, withscores=True
            )
        if not first:
            return now + timedelta(seconds=RECHECK_SECONDS)
        due = from_us(str(int(first[0][1])))
        assert due is not None  # noqa: S101 - a score is a time
        return due

    def _arm(self, due: datetime, *, replace: bool = False) -> None:
        with contextlib.suppress(ActorStoppedError):
            self.tell(_Arm(due, replace))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()  # done already when it is the one that fired
        self._timer = self._timer_due = None

    def _set_timer(self, due: datetime) -> None:
        self._stop_timer()
        self._timer_due = due
        self._timer = asyncio.create_task(self._sleep_until(due), name="schedules:timer")

    async def _sleep_until(self, due: datetime) -> None:
        await self._clock.sleep(max(0.0, (due - self._clock.now()).total_seconds()))
        with contextlib.suppress(ActorStoppedError):
            self.tell(_Due())

    async def on_stop(self) -> None:
        """Stop the timer."""
        timer, self._timer, self._timer_due = self._timer, None, None
        if timer is not None:
            timer.cancel()
            await asyncio.wait({timer})
