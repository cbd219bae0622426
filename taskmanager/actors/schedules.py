"""Schedules: a task body submitted again at every due time, by interval or cron expression.

Each due time makes exactly one task. The due time itself is what is claimed: here one
actor owns the schedules and fires them one at a time; with Redis a script compares and
sets a schedule's next due time and creates its task in the same step. Due times missed
while nothing ran (a restart, a long pause of the process) are made up once, with one
task, and the schedule goes on from the next due time after now.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import ConfigDict, Field

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import (
    ShuttingDown,
    StoreFull,
    SubmitTask,
    Viewer,
)
from taskmanager.actors.model import JobOptions, Parameters, Task, TaskType
from taskmanager.actors.runtime import (
    Actor,
    ActorStoppedError,
    MailboxFullError,
    Request,
    UnavailableError,
)

logger = logging.getLogger(__name__)

#: Seconds before a schedule whose task could not be made (the store did not answer) is
#: tried again.
RETRY_SECONDS: Final = 1.0
MAX_EVERY: Final = 86_400
#: The most schedules the service keeps: each one is a timer and a due time to look at.
MAX_SCHEDULES: Final = 1_000
#: What a schedule's name may be.
NAME_PATTERN: Final = r"^[a-z0-9_-]{1,100}$"
CRON_FIELDS: Final = 5


# --- when a schedule is due -------------------------------------------------------------


def zone(name: str) -> tzinfo | None:
    """The IANA time zone ``name``, or None when there is no such zone."""
    if name == "UTC":
        return UTC  # needs no time zone data
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a five-field cron expression, or None when it is one."""
    if len(expression.split()) != CRON_FIELDS:
        return "expected 5 fields: minute hour day-of-month month day-of-week"
    try:
        next(CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as error:
        return str(error)
    except StopIteration:
        return "the expression never matches"
    return None


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule is due: every ``every`` seconds, or at ``cron`` in ``timezone``."""

    every: int | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def first(self, now: datetime) -> datetime:
        """The first due time of a schedule made (or replaced) at ``now``."""
        if self.every is not None:
            return now + timedelta(seconds=self.every)
        return self._cron_after(now)

    def following(self, due: datetime, now: datetime) -> datetime:
        """The due time after ``due``, once ``due`` fired at ``now``: the first after now.

        However many due times passed unseen since ``due``, none of them comes back.
        """
        if self.every is not None:
            missed = math.floor((now - due).total_seconds() / self.every) + 1
            return due + timedelta(seconds=self.every * max(1, missed))
        return self._cron_after(max(due, now))

    def _cron_after(self, moment: datetime) -> datetime:
        assert self.cron is not None  # noqa: S101 - a timing has one or the other
        local = zone(self.timezone) or UTC
        # cronsim follows Debian cron across daylight saving: a time skipped by the clock
        # change runs right after it, a repeated time runs once.
        after = next(CronSim(self.cron, moment.astimezone(local)))
        return after.astimezone(UTC)


# --- what clients see -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as clients see it: the task it makes, when, and what it made last."""

    __pydantic_config__ = ConfigDict(json_schema_serialization_defaults_required=True)

    name: str
    task_type: TaskType
    parameters: Parameters
    created_at: datetime
    next_run_at: Annotated[datetime, Field(description="When it next makes a task")]
    every: Annotated[int | None, Field(description="Seconds between due times")] = None
    cron: Annotated[str | None, Field(description="Five-field cron expression")] = None
    timezone: Annotated[
        str | None, Field(description="The IANA time zone the cron expression is read in")
    ] = None
    priority: int = 0
    delay: float = 0.0
    timeout: float | None = None
    max_retries: int = 0
    last_task_id: Annotated[UUID | None, Field(description="The task it made last")] = None
    last_run_at: Annotated[datetime | None, Field(description="When it made that task")] = None

    @property
    def timing(self) -> Timing:
        """When it is due."""
        return Timing(self.every, self.cron, self.timezone or "UTC")

    @property
    def options(self) -> JobOptions:
        """The job options of each task it makes."""
        return JobOptions(self.priority, self.delay, self.timeout, self.max_retries)


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """What a client puts: a name, a task body, and when."""

    name: str
    task_type: TaskType
    parameters: Parameters
    options: JobOptions
    timing: Timing

    def schedule(self, now: datetime, earlier: Schedule | None) -> Schedule:
        """The schedule this spec makes at ``now``, replacing ``earlier`` if there was one."""
        options, timing = self.options, self.timing
        return Schedule(
            name=self.name,
            task_type=self.task_type,
            parameters=self.parameters,
            created_at=earlier.created_at if earlier is not None else now,
            next_run_at=timing.first(now),
            every=timing.every,
            cron=timing.cron,
            timezone=timing.timezone if timing.cron is not None else None,
            priority=options.priority,
            delay=options.delay,
            timeout=options.timeout,
            max_retries=options.max_retries,
            last_task_id=earlier.last_task_id if earlier is not None else None,
            last_run_at=earlier.last_run_at if earlier is not None else None,
        )


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saved:
    """A schedule was created (``created``) or replaced."""

    schedule: Schedule
    created: bool


@dataclass(frozen=True, slots=True)
class TooManySchedules:
    """A new schedule would pass ``MAX_SCHEDULES``: one must be deleted first."""

    limit: int


@dataclass(frozen=True, slots=True)
class PutSchedule(Request[Saved | TooManySchedules | None]):
    """Create or replace a schedule; None when it belongs to a key the viewer is not.

    A new schedule belongs to ``owner`` (the key that made it); a replaced one keeps
    its owner, and its next due time starts again from now.
    """

    spec: ScheduleSpec
    owner: str | None = None
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class GetSchedule(Request[Schedule | None]):
    """The schedule, or None when unknown or not the viewer's."""

    name: str
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class ListSchedules(Request[tuple[Schedule, ...]]):
    """Every schedule the viewer may see, by name."""

    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class DeleteSchedule(Request[Schedule | None]):
    """Delete a schedule (its tasks stay); reply with it, or None when unknown to the viewer."""

    name: str
    viewer: Viewer = None


@dataclass(frozen=True, slots=True)
class _Due:
    """The timer fired: the earliest schedule is due."""


# --- in this process's memory -----------------------------------------------------------


class Scheduler(Actor):
    """Owns the schedules, and one timer for the earliest due time (no polling).

    At a due time it submits the schedule's task to the store, then moves the schedule
    to its next due time; nothing else runs in between, so each due time makes one task.
    """

    def __init__(self, *, store: Actor, clock: Clock) -> None:
        super().__init__("schedules")
        self._store = store
        self._clock = clock
        self._schedules: dict[str, Schedule] = {}
        self._owners: dict[str, str] = {}
        # When a schedule whose task the store refused (full) may try again.
        self._retry_at: dict[str, datetime] = {}
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: datetime | None = None
        # The store takes no more tasks (the service is shutting down): no timer either.
        self._stopping = False

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one schedules message."""
        match message:
            case PutSchedule(spec=spec, owner=owner, viewer=viewer):
                earlier = self._visible(spec.name, viewer)
                if earlier is None and spec.name in self._schedules:
                    return None  # another key's
                if earlier is None and len(self._schedules) >= MAX_SCHEDULES:
                    return TooManySchedules(MAX_SCHEDULES)
                schedule = spec.schedule(self._clock.now(), earlier)
                self._schedules[spec.name] = schedule
                self._retry_at.pop(spec.name, None)
                if earlier is None and owner is not None:
                    self._owners[spec.name] = owner
                self._arm()
                return Saved(schedule, created=earlier is None)
            case GetSchedule(name=name, viewer=viewer):
                return self._visible(name, viewer)
            case ListSchedules(viewer=viewer):
                names = sorted(self._schedules)
                return tuple(
                    self._schedules[name]
                    for name in names
                    if viewer is None or self._owners.get(name) == viewer
                )
            case DeleteSchedule(name=name, viewer=viewer):
                deleted = self._visible(name, viewer)
                if deleted is not None:
                    del self._schedules[name]
                    self._owners.pop(name, None)
                    self._retry_at.pop(name, None)
                    self._arm()
                return deleted
            case _Due():
                if self._timer is not None:
                    self._timer.cancel()  # done already when it is the one that fired
                self._timer = self._timer_due = None
                await self._fire()
                self._arm()
            case _:
                raise TypeError(f"schedules got an unknown message {message!r}")
        return None

    def _visible(self, name: str, viewer: Viewer) -> Schedule | None:
        schedule = self._schedules.get(name)
        if schedule is None or (viewer is not None and self._owners.get(name) != viewer):
            return None
        return schedule

    def _wake_at(self, schedule: Schedule) -> datetime:
        return self._retry_at.get(schedule.name, schedule.next_run_at)

    async def _fire(self) -> None:
        """Make the task of every schedule that is due, one task per schedule."""
        now = self._clock.now()
        due = [s for s in self._schedules.values() if self._wake_at(s) <= now]
        for schedule in sorted(due, key=lambda s: s.next_run_at):
            owner = self._owners.get(schedule.name)
            message = SubmitTask(
                schedule.task_type,
                schedule.parameters,
                schedule.options,
                owner=owner,
                schedule=schedule.name,
            )
            try:
                outcome = await self._store.ask(message)
            except (TimeoutError, ActorStoppedError, MailboxFullError, UnavailableError) as error:
                logger.warning("schedule %s: no task made yet (%r)", schedule.name, error)
                self._retry_at[schedule.name] = now + timedelta(seconds=RETRY_SECONDS)
                continue
            match outcome:
                case Task(task_id=task_id):
                    self._retry_at.pop(schedule.name, None)
                    self._schedules[schedule.name] = dataclasses.replace(
                        schedule,
                        next_run_at=schedule.timing.following(schedule.next_run_at, now),
                        last_task_id=task_id,
                        last_run_at=now,
                    )
                case StoreFull(retry_after=retry_after):
                    logger.warning("schedule %s: the store is full; trying again", schedule.name)
                    self._retry_at[schedule.name] = now + timedelta(seconds=retry_after)
                case ShuttingDown():
                    self._stopping = True
                    return
                case other:
                    raise RuntimeError(f"the store answered a schedule's task with {other!r}")

    def _arm(self) -> None:
        """One timer, for the earliest due time of all the schedules."""
        due = (
            None
            if self._stopping
            else min(map(self._wake_at, self._schedules.values()), default=None)
        )
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = None if due is None else asyncio.create_task(self._sleep_until(due))

    async def _sleep_until(self, due: datetime) -> None:
        await self._clock.sleep(max(0.0, (due - self._clock.now()).total_seconds()))
        with contextlib.suppress(ActorStoppedError):
            self.tell(_Due())

    async def on_crash(self, error: Exception) -> None:  # noqa: ARG002 - any crash alike
        """A crash mid-fire leaves no timer: set it again."""
        if self._timer is None:
            self._arm()

    async def on_stop(self) -> None:
        """Stop the timer."""
        timer, self._timer, self._timer_due = self._timer, None, None
        if timer is not None:
            timer.cancel()
            await asyncio.wait({timer})
