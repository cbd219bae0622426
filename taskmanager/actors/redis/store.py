"""The store gateway: answers the task store's messages from Redis, one script a change.

Nothing about a task is kept here but who waits for it: long-polls wait on a local
future, woken by the changes the event reader sees (from any replica). Each message's
Redis work runs as a ``Later`` reply, so the gateway takes the next message while Redis
answers the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import (
    BeginDrain,
    CancelTask,
    CheckHealth,
    Counted,
    FinishTask,
    GetDispatcherStatus,
    GetResults,
    GetRunning,
    GetStoreStatus,
    GetTask,
    KeyReused,
    ListTasks,
    PauseQueue,
    Replayed,
    ReportProgress,
    ShuttingDown,
    StopUnfinished,
    StoreFull,
    StoreStatus,
    StoreUnavailable,
    SubmitCounted,
    SubmitOutcome,
    SubmitTask,
    SweepExpired,
    TaskPage,
    UnknownDependency,
    Viewer,
    WatchTask,
    WhenIdle,
    Withdraw,
    WithdrawAll,
    WorkAvailable,
)
from taskmanager.actors.model import TERMINAL, Task, TaskStatus
from taskmanager.actors.redis.connection import CommandBatcher, Scripts, reachable
from taskmanager.actors.redis.ratelimiter import decision_of, request_names, window_args
from taskmanager.actors.redis.records import from_us, pairs, parameters_json, task_from
from taskmanager.actors.runtime import (
    Actor,
    ActorStoppedError,
    Later,
    Request,
    UnavailableError,
)
from taskmanager.actors.store import JITTER, STATS_MINUTES
from taskmanager.config import Settings
from taskmanager.jobs import JSONValue

logger = logging.getLogger(__name__)

type Waiter = asyncio.Future[Task | None]

#: Tasks read per round trip while a page is filled.
SCAN_BATCH: Final = 500
#: The statuses with an index of their own besides idx:all (see `move` in prelude.lua).
INDEXED: Final = (TaskStatus.QUEUED, TaskStatus.FAILED, TaskStatus.CANCELLED)
#: Expired tasks removed per sweep.
SWEEP_BATCH: Final = 500
#: Heartbeats per lease period; a renewal is good for half a lease.
BEATS_PER_LEASE: Final = 8
#: Without a renewal for this share of the lease, a replica stops its own jobs. Others may
#: take its tasks at one half, counted from when Redis applied the last renewal, which is
#: after it was sent: the jobs get an eighth of the lease at least to stop.
FENCE_SHARE: Final = 3 / 8
#: Seconds a stopping replica waits for its jobs to stop before giving their tasks back.
STOP_JOBS_SECONDS: Final = 2.0
#: Seconds between tries to report an outcome while Redis cannot be reached (31 s in all).
FINISH_RETRY_PAUSES: Final = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_MINUTE_US: Final = 60_000_000


@dataclass(frozen=True, slots=True)
class Woken:
    """These tasks changed status, and a long-poll here waits for each (said the inbox)."""

    task_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class Arm:
    """To the doorbell: an idle worker here found nothing to claim; wait for a ring."""


@dataclass(frozen=True, slots=True)
class Disarm:
    """This replica is claiming (or has no idle worker): leave the rings to others."""


@dataclass(frozen=True, slots=True)
class IsArmed(Request[bool]):
    """Whether this replica waits for work with an idle worker (it claims what comes)."""


@dataclass(frozen=True, slots=True)
class Missed:
    """Wake-ups may have been missed (the inbox could not be read for a while)."""


@dataclass(frozen=True, slots=True)
class _Beat:
    """Time to tell the other replicas this one is alive, and to look for dead ones."""


@dataclass(frozen=True, slots=True)
class _LeaseCheck:
    """The lease may run out before a renewal lands: time to stop this replica's jobs?"""


@dataclass(frozen=True, slots=True)
class _BeatDone:
    """What a heartbeat learnt: registered or not, tasks that may run nowhere, renewed.

    ``renewed`` is when the renewal that landed was sent (None: none landed).
    """

    registered: bool
    suspects: frozenset[str]
    renewed: float | None


@dataclass(frozen=True, slots=True)
class _Reported:
    """An attempt's outcome was reported (or given up on)."""

    task_id: UUID


@dataclass(frozen=True, slots=True)
class _DropWaiter:
    task_id: UUID
    waiter: Waiter


def _out_of_memory(error: UnavailableError) -> bool:
    """Whether Redis refused a script for want of memory (it is there, and reads work)."""
    cause = error.__cause__
    return isinstance(cause, OutOfMemoryError) or str(cause).startswith("OOM")


def fingerprint(message: SubmitTask) -> str:
    """What an idempotency key is compared by: the type, the parameters, the options."""
    options = message.options
    text = json.dumps(
        [
            str(message.task_type),
            parameters_json(message.parameters),
            [options.priority, options.delay, options.timeout, options.max_retries],
            *([[str(i) for i in message.depends_on]] if message.depends_on else []),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


class RedisStore(Actor):
    """Answers the store's messages from Redis; keeps only this replica's waiters."""

    def __init__(  # noqa: PLR0913 - the gateway's collaborators and settings, by name
        self,
        *,
        redis: Redis,
        batcher: CommandBatcher,
        scripts: Scripts,
        settings: Settings,
        replica: str,
        dispatcher: Actor,
        doorbell: Actor,
        workers: int,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__("store")
        self._redis = redis
        self._batcher = batcher
        self._scripts = scripts
        self._settings = settings
        self._prefix = settings.redis_prefix
        self._replica = replica
        self._dispatcher = dispatcher
        self._doorbell = doorbell
        self._workers = workers
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._ttl_us = int(settings.result_ttl * 1_000_000)
        self._request_names = request_names()
        self._waiters: dict[UUID, list[tuple[TaskStatus, Waiter]]] = {}
        self._draining = False
        self._beats: asyncio.Task[None] | None = None
        self._guard: asyncio.Task[None] | None = None
        self._registered = False
        self._suspects: frozenset[str] = frozenset()
        # Attempts whose outcome is being reported: not orphans, whatever Redis says yet.
        self._finishing: set[UUID] = set()
        # When the last renewal that landed was sent, and whether the jobs were stopped since.
        self._renewed = clock.monotonic()
        self._fenced = False

    # --- life -----------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Register, and start telling the others that this replica is alive.

        Registered before the dispatcher's first claim: an unregistered replica may claim
        nothing. If Redis cannot register it now, the heartbeats do later.
        """
        sent = self._clock.monotonic()
        try:
            await self._scripts(
                "heartbeat", self._replica, int(self._settings.lease * 500_000), self._workers, 0, 1
            )
        except Exception as error:  # noqa: BLE001 - the heartbeats register it later
            logger.warning("replica %s could not register yet: %r", self._replica, error)
        else:
            self._registered, self._renewed = True, sent
        self._beats = asyncio.create_task(self._beat_forever(), name="store:heartbeat")
        self._guard = asyncio.create_task(self._guard_lease(), name="store:lease-guard")

    async def _beat_forever(self) -> None:
        # A replica renews its lease eight times per lease period and is declared dead
        # half a lease after its last renewal: detected within the lease; a few missed
        # renewals are tolerated, and one that cannot renew stops its own jobs before
        # the others may take them (see _fence).
        while True:
            with contextlib.suppress(ActorStoppedError):
                self.tell(_Beat())
            await self._clock.sleep(self._settings.lease / BEATS_PER_LEASE)

    async def _guard_lease(self) -> None:
        # Wakes when the lease may run out without a renewal, whenever that falls between
        # two heartbeats: a replica cut off from Redis stops its jobs in time (see _fence).
        while True:
            due = self._renewed + self._settings.lease * FENCE_SHARE
            now = self._clock.monotonic()
            if now < due:
                await self._clock.sleep(due - now)
                continue
            with contextlib.suppress(ActorStoppedError):
                self.tell(_LeaseCheck())
            await self._clock.sleep(self._settings.lease / BEATS_PER_LEASE)

    async def on_stop(self) -> None:
        """Stop the heartbeat and leave the service: nothing of this replica runs any more.

        Its lease is made to have run out, so that the next heartbeat of any replica
        clears whatever it still held (nothing, after a drain that went well).
        """
        running = {task for task in (self._beats, self._guard) if task is not None}
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)
        with contextlib.suppress(Exception):
            await self._redis.zadd(self._key("replicas"), {self._replica: 0}, xx=True)

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    # --- messages -------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Handle one store message."""
        match message:
            case GetTask(task_id=task_id, viewer=viewer):
                return Later(self._get(task_id, viewer))
            case GetResults(task_ids=task_ids):
                return Later(self._results(task_ids))
            case SubmitTask():
                if self._draining:
                    return ShuttingDown()
                return Later(self._submit(message))
            case SubmitCounted(submit=submit, client=client):
                if self._draining:
                    return ShuttingDown()
                return Later(self._submit_counted(submit, client))
            case ReportProgress(task_id=task_id, lease=lease, progress=progress):
                return Later(self._scripts("progress", task_id, lease, repr(float(progress))))
            case FinishTask(
                task_id=task_id, lease=lease, result=result, error=error, retryable=retryable
            ):
                retry = error is not None and (error.retryable or retryable)
                self._finishing.add(task_id)
                return Later(
                    self._finish(
                        task_id,
                        lease,
                        json.dumps(result) if error is None else "",
                        error.type if error else "",
                        error.message if error else "",
                        "1" if retry else "0",
                        int(self._settings.retry_backoff * 1_000_000),
                        self._ttl_us,
                        repr(JITTER * self._rng.random()),
                    )
                )
            case CancelTask(task_id=task_id, viewer=viewer):
                return Later(self._cancel(task_id, viewer))
            case WatchTask(task_id=task_id, seen=seen, viewer=viewer):
                return self._watch(task_id, seen, viewer)
            case _DropWaiter(task_id=task_id, waiter=waiter):
                self._drop(task_id, waiter)
            case Woken(task_ids=task_ids):
                woken = [(i, list(self._waiters[i])) for i in task_ids if i in self._waiters]
                if woken:
                    return Later(self._recheck(woken))
            case ListTasks():
                return Later(self._list(message))
            case SweepExpired():
                return Later(self._sweep())
            case _Beat():
                reporting = frozenset(str(task_id) for task_id in self._finishing)
                return Later(self._beat(self._registered, self._suspects, reporting))
            case _BeatDone(registered=registered, suspects=suspects, renewed=renewed):
                self._registered, self._suspects = registered, suspects
                if renewed is not None and renewed >= self._renewed:
                    self._renewed = renewed
                    self._fenced = False
            case _LeaseCheck():
                self._fence()
            case _Reported(task_id=task_id):
                self._finishing.discard(task_id)
            case GetStoreStatus(viewer=viewer):
                return Later(self._status(viewer))
            case CheckHealth():
                return Later(self._reachable())
            case PauseQueue(paused=paused):
                return Later(self._pause(paused))
            case BeginDrain():
                self._draining = True
                waiting = [(task_id, [w for _, w in ws]) for task_id, ws in self._waiters.items()]
                return Later(self._answer_waiters(waiting))
            case Missed():
                # Wake-ups may have been missed: whoever waits looks again, and so does the
                # dispatcher; a missed cancel is caught by the next heartbeat.
                self._dispatcher.tell(WorkAvailable())
                watching = [(task_id, list(ws)) for task_id, ws in self._waiters.items()]
                return Later(self._recheck(watching))
            case StopUnfinished():
                return Later(self._release_running())
            case _:
                raise TypeError(f"store got an unknown message {message!r}")
        return None

    # --- reading --------------------------------------------------------------------------

    async def _get(self, task_id: UUID, viewer: Viewer) -> Task | None:
        with reachable():
            fields: dict[str, str] = await self._batcher.execute(
                "HGETALL", self._key("task", str(task_id))
            )
        if not fields or (viewer is not None and fields.get("owner", "") != viewer):
            return None
        return task_from(fields, task_id=task_id)

    async def _results(self, task_ids: tuple[UUID, ...]) -> dict[UUID, JSONValue]:
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                for task_id in task_ids:
                    pipe.hmget(self._key("task", str(task_id)), "status", "result")
                answers: list[list[str | None]] = await pipe.execute()
        return {
            task_id: json.loads(result)
            for task_id, (status, result) in zip(task_ids, answers, strict=True)
            if status == "completed" and result
        }

    async def _sweep(self) -> None:
        """Remove every task whose result TTL has passed, a batch (one script) at a time.

        Batches keep each script short; taking them all keeps removal up with finishing.
        """
        while await self._scripts("sweep", SWEEP_BATCH, STATS_MINUTES) >= SWEEP_BATCH:
            pass

    async def _list(self, query: ListTasks) -> TaskPage:
        """A page, walking the narrowest index in submission order.

        Records that changed or vanished since the index was read are judged as they are.
        """
        if query.viewer is not None:
            index = self._key("idx", "own", query.viewer)
        elif query.status == TaskStatus.PROCESSING:
            return await self._list_running(query)
        elif query.status in INDEXED:
            index = self._key("idx", str(query.status))
        else:  # completed tasks are those idx:all holds that no other index does
            index = self._key("idx", "all")
        newest = query.order == "newest"
        bound = "+inf" if newest else "-inf"
        if query.after is not None:
            bound = f"({query.after}"
        tasks: list[Task] = []
        last = 0
        entries: list[tuple[str, float]]
        records: list[dict[str, str]]
        while True:
            with reachable():
                if newest:
                    entries = await self._redis.zrevrangebyscore(  # type: ignore[assignment]
                        index, bound, "-inf", start=0, num=SCAN_BATCH, withscores=True
                    )
                else:
                    entries = await self._redis.zrangebyscore(  # type: ignore[assignment]
                        index, bound, "+inf", start=0, num=SCAN_BATCH, withscores=True
                    )
                async with self._redis.pipeline(transaction=False) as pipe:
                    for task_id, _ in entries:
                        pipe.hgetall(self._key("task", task_id))
                    records = await pipe.execute()
            for (task_id, score), fields in zip(entries, records, strict=True):
                if not fields or not _matches(fields, query):
                    continue
                if len(tasks) == query.limit:
                    return TaskPage(tuple(tasks), last)
                tasks.append(task_from(fields, task_id=task_id))
                last = int(score)
            if len(entries) < SCAN_BATCH:
                return TaskPage(tuple(tasks), None)
            bound = f"({int(entries[-1][1])}"

    async def _list_running(self, query: ListTasks) -> TaskPage:
        """A page of running tasks, read at once from their replicas' running sets.

        No index holds them in order: there is one per busy worker of the service at most.
        """
        ids = sorted(await self._running_ids())
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                for task_id in ids:
                    pipe.hgetall(self._key("task", task_id))
                records: list[dict[str, str]] = await pipe.execute()
        newest = query.order == "newest"
        found = sorted(
            (
                (int(fields["seq"]), task_id, fields)
                for task_id, fields in zip(ids, records, strict=True)
                if fields and _matches(fields, query)
            ),
            key=lambda entry: entry[0],
            reverse=newest,
        )
        if query.after is not None:
            after = query.after
            found = [e for e in found if (e[0] < after if newest else e[0] > after)]
        page = found[: query.limit]
        more = len(found) > query.limit
        return TaskPage(
            tuple(task_from(fields, task_id=task_id) for _, task_id, fields in page),
            page[-1][0] if more else None,
        )

    async def _running_ids(self) -> set[str]:
        """The tasks the registered replicas run (the union of their running sets)."""
        with reachable():
            replicas: list[str] = await self._redis.zrange(self._key("replicas"), 0, -1)  # type: ignore[assignment]
            async with self._redis.pipeline(transaction=False) as pipe:
                for replica in replicas:
                    pipe.smembers(self._key("running", replica))
                sets: list[set[str]] = await pipe.execute()
        return set().union(*sets)

    async def _status(self, viewer: Viewer) -> StoreStatus:
        now_us = int(self._scripts.now())
        this_minute = now_us // _MINUTE_US
        minutes = range(this_minute - STATS_MINUTES + 1, this_minute + 1)
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                # The whole service's counts come from the indexes' sizes; an API key's
                # are kept apart (tasks submitted without a key keep none).
                if viewer is None:
                    for index in ("all", *INDEXED):
                        pipe.zcard(self._key("idx", index))
                else:
                    pipe.hmget(self._key("counts"), [f"{viewer}|{s}" for s in TaskStatus])
                pipe.hgetall(self._key("stats"))
                if viewer is not None:  # a client key's own completions
                    for minute in minutes:
                        pipe.get(f"{self._key('done', str(minute))}:{viewer}")
                pipe.zrange(self._key("replicas"), 0, -1, withscores=True)
                pipe.exists(self._key("paused"))
                *answers, paused = await pipe.execute()
            sizes = answers[: len(INDEXED) + 1] if viewer is None else answers[0]
            stats, *done, deadlines = answers[len(INDEXED) + 1 if viewer is None else 1 :]
            # The whole service's completions per minute are fields of its stats (see
            # `ended` in prelude.lua), folded into the total once out of the window.
            minutely = {int(k[5:]): int(v) for k, v in stats.items() if k.startswith("done:")}
            if viewer is None:
                done = [minutely.get(minute) for minute in minutes]
            replicas = [replica for replica, deadline in deadlines if deadline >= now_us]
            async with self._redis.pipeline(transaction=False) as pipe:
                for replica in replicas:
                    pipe.hmget(self._key("replica", replica), "workers", "busy")
                for replica, _ in deadlines:
                    pipe.scard(self._key("running", replica))
                figures = await pipe.execute()
            running = sum(figures[len(replicas) :])
            figures = figures[: len(replicas)]
        # This replica's own figures are the dispatcher's, now; the others' are from their
        # last heartbeat (a quarter of a lease old at most).
        here = await self._dispatcher.ask(GetDispatcherStatus())
        figures = [
            (here.workers, here.busy) if replica == self._replica else figure
            for replica, figure in zip(replicas, figures, strict=True)
        ]
        if viewer is None:
            every, *indexed = (int(size) for size in sizes)
            sized = dict(zip(INDEXED, indexed, strict=True))
            counts = {status: sized.get(status, 0) for status in TaskStatus}
            counts[TaskStatus.PROCESSING] = running
            # A pipeline is no snapshot: a task that moved in between is not counted twice.
            counts[TaskStatus.COMPLETED] = max(0, every - sum(counts.values()))
        else:
            counts = {
                status: int(size or 0) for status, size in zip(TaskStatus, sizes, strict=True)
            }
        return StoreStatus(
            counts=counts,
            finished_total={
                s: int(stats.get(f"finished:{s}", 0))
                + (sum(minutely.values()) if s is TaskStatus.COMPLETED else 0)
                for s in TERMINAL
            },
            retries_total=int(stats.get("retries", 0)),
            timeouts_total=int(stats.get("timeouts", 0)),
            waiters=sum(len(waiters) for waiters in self._waiters.values()),
            completed_per_minute=tuple(
                (datetime.fromtimestamp(minute * 60, UTC), int(count or 0))
                for minute, count in zip(minutes, done, strict=True)
            ),
            workers=(
                sum(int(total or 0) for total, _ in figures),
                sum(int(busy or 0) for _, busy in figures),
            ),
            paused=bool(paused),
        )

    async def _pause(self, paused: bool) -> bool:  # noqa: FBT001
        """Pause or resume every replica (see pause.lua)."""
        await self._scripts("pause", "1" if paused else "0")
        if not paused:
            self._dispatcher.tell(WorkAvailable())
        return paused

    async def _reachable(self) -> bool:
        try:
            with reachable():
                return bool(await self._redis.ping())
        except UnavailableError:
            return False

    # --- changing -------------------------------------------------------------------------

    async def _submit(self, message: SubmitTask) -> SubmitOutcome:
        while True:
            task_id = uuid.uuid4()
            reply = await self._submit_script(task_id, message)
            outcome = await self._outcome(task_id, message, reply)
            if outcome is not None:
                return outcome

    async def _submit_counted(self, message: SubmitTask, client: str) -> Counted:
        limit = self._settings.rate_limit
        # One name for every run of the script: a submission run again is counted once.
        rate = window_args(limit, client, next(self._request_names))
        while True:
            task_id = uuid.uuid4()
            try:
                reply = await self._submit_script(task_id, message, rate)
            except UnavailableError as error:
                if not _out_of_memory(error):
                    raise
                # Redis at maxmemory refuses the whole submission, its count too; the rate
                # check runs there, so the request is counted (or refused) as any other.
                allowed, counted, reset_us = await self._scripts("ratelimit", *rate)
                decision = decision_of(limit, allowed, counted, reset_us)
                return Counted(decision, StoreUnavailable() if decision.allowed else None)
            if reply[0] == "limited":
                return Counted(decision_of(limit, 0, reply[1], reply[2]), None)
            *reply, counted, reset_us = reply
            decision = decision_of(limit, 1, counted, reset_us)
            outcome = await self._outcome(task_id, message, reply)
            if outcome is not None:
                return Counted(decision, outcome)

    async def _submit_script(
        self, task_id: UUID, message: SubmitTask, rate: tuple[str | int, ...] = ()
    ) -> Any:  # noqa: ANN401 - the script's reply
        """Run the submit script; with ``rate``, it counts the submission in the same step."""
        options = message.options
        # An idle replica elsewhere is woken only when this one cannot take the task now.
        here = await self._doorbell.ask(IsArmed())
        return await self._scripts(
            "submit",
            task_id,
            message.task_type,
            parameters_json(message.parameters),
            options.priority,
            int(options.delay * 1_000_000),
            "" if options.timeout is None else repr(options.timeout),
            options.max_retries,
            message.owner or "",
            message.idempotency_key or "",
            # Compared only when a later submission brings the same key.
            fingerprint(message) if message.idempotency_key else "",
            self._settings.max_tasks,
            "1" if here else "0",
            ",".join(str(i) for i in message.depends_on),
            message.viewer or "",
            self._ttl_us,
            *rate,
        )

    async def _outcome(
        self,
        task_id: UUID,
        message: SubmitTask,
        reply: Any,  # noqa: ANN401 - the script's reply
    ) -> SubmitOutcome | None:
        """What the submit script's reply means; None: submit again (a key went meanwhile)."""
        options = message.options
        match reply:
            case ["created", _, created, run_at]:
                # Here at once; an idle replica elsewhere hears the doorbell.
                self._dispatcher.tell(WorkAvailable())
                return Task(
                    task_id=task_id,
                    task_type=message.task_type,
                    status=TaskStatus.QUEUED,
                    parameters=message.parameters,
                    created_at=_moment(created),
                    run_at=_moment(run_at),
                    priority=options.priority,
                    timeout=options.timeout,
                    max_retries=options.max_retries,
                )
            case ["record", flat]:
                # A submission with dependencies: the record says what became of it.
                self._dispatcher.tell(WorkAvailable())
                return task_from(pairs(flat), task_id=task_id)
            case ["unknown", dependency]:
                return UnknownDependency(UUID(dependency))
            case ["replayed", earlier]:
                task = await self._get(UUID(earlier), None)
                if task is None:  # removed in between: the key went with it
                    return None
                return Replayed(task)
            case ["reused", earlier]:
                return KeyReused(UUID(earlier))
            case ["full", wait_us]:
                return StoreFull(int(wait_us) / 1_000_000)
            case _:
                raise RuntimeError(f"submit script answered {reply!r}")

    async def _finish(self, task_id: UUID, *args: object) -> None:
        """Report an attempt's outcome; while Redis cannot be reached, keep trying a while.

        An outcome that never lands is not lost either: the next heartbeats find the task
        running here with no worker on it and put it back in the queue, to run again.
        """
        try:
            for pause in (*FINISH_RETRY_PAUSES, None):
                try:
                    outcome = await self._scripts("finish", task_id, *args)
                    break
                except UnavailableError:
                    if pause is None:
                        raise
                    await asyncio.sleep(pause)  # Redis comes back in real time
        finally:
            with contextlib.suppress(ActorStoppedError):
                self.tell(_Reported(task_id))
        if outcome == "queued":
            # Back in the queue for a retry: this replica's dispatcher learns when it is due.
            self._dispatcher.tell(WorkAvailable())

    async def _cancel(self, task_id: UUID, viewer: Viewer) -> Task | None:
        flat = await self._scripts("cancel", task_id, viewer or "", self._ttl_us, self._replica)
        if not flat:
            return None
        # Stopped at once if it runs here; the replica that runs it hears of it (only it).
        self._dispatcher.tell(Withdraw(task_id))
        return task_from(pairs(flat), task_id=task_id)

    async def _beat(
        self,
        registered: bool,  # noqa: FBT001
        suspects: frozenset[str],
        reporting: frozenset[str],
    ) -> None:
        """Renew the lease; fail over dead replicas' tasks; give back orphans of this one.

        An orphan is a task Redis says runs here while no worker here runs it.
        """
        lease_us = int(self._settings.lease * 1_000_000)
        here = await self._dispatcher.ask(GetRunning())
        sent = self._clock.monotonic()  # Redis sets the new deadline no earlier
        alive = await self._scripts(
            "heartbeat",
            self._replica,
            lease_us // 2,
            self._workers,
            len(here),
            "0" if registered else "1",
        )
        if not alive:
            # Declared dead while silent: its tasks went to others. Stop running them.
            logger.error("replica %s lost its lease; stopping its running jobs", self._replica)
            self._dispatcher.tell(WithdrawAll())
            self.tell(_BeatDone(registered=False, suspects=frozenset(), renewed=None))
            return
        await self._scripts(
            "reap",
            int(self._settings.retry_backoff * 1_000_000),
            self._ttl_us,
            self._rng.randrange(2**31),
            repr(JITTER),
        )
        await self._withdraw_ended(here)
        with reachable():
            recorded: set[str] = await self._redis.smembers(  # type: ignore[assignment]
                self._key("running", self._replica)
            )
        # An attempt whose start was applied but whose answer was lost runs nowhere. Seen
        # twice, a beat apart, it is no passing moment between a finish and its report.
        orphans = frozenset(i for i in recorded if UUID(i) not in here and i not in reporting)
        for task_id in orphans & suspects:
            logger.warning("task %s was started here but runs nowhere; it goes back", task_id)
            await self._release(task_id)
        self.tell(_BeatDone(registered=True, suspects=orphans - suspects, renewed=sent))

    def _fence(self) -> None:
        """Stop this replica's jobs if its lease may have run out without a renewal.

        Others may take its tasks once its deadline passes; stopping the jobs a little
        before then means no task ever runs on two replicas. The tasks come back to the
        queue (as orphans) once Redis answers again, or the reaper retries them.
        """
        silent = self._clock.monotonic() - self._renewed
        if not self._fenced and silent >= self._settings.lease * FENCE_SHARE:
            logger.warning(
                "replica %s could not renew its lease for %.1f s; stopping its jobs",
                self._replica,
                silent,
            )
            self._dispatcher.tell(WithdrawAll())
            self._fenced = True

    async def _withdraw_ended(self, here: frozenset[UUID]) -> None:
        """Stop a job whose task ended or moved elsewhere (its event may have been missed)."""
        if not here:
            return
        ordered = sorted(here)
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                for task_id in ordered:
                    pipe.hmget(self._key("task", str(task_id)), "status", "lease")
                found: list[list[str | None]] = await pipe.execute()
        for task_id, (status, lease) in zip(ordered, found, strict=True):
            elsewhere = status == "processing" and not (lease or "").startswith(f"{self._replica}/")
            if status is None or status in TERMINAL or elsewhere:
                self._dispatcher.tell(Withdraw(task_id))

    async def _release(self, task_id: str) -> bool:
        with reachable():
            lease: str | None = await self._redis.hget(  # type: ignore[assignment]
                self._key("task", task_id), "lease"
            )
        return bool(lease) and bool(await self._scripts("release", task_id, lease, self._replica))

    async def _release_running(self) -> tuple[Task, ...]:
        """The shutdown grace is over: this replica's unfinished tasks go back to the queue.

        The jobs stop first, so that none still runs here when another replica takes it.
        """
        self._dispatcher.tell(WithdrawAll())
        idle = await self._dispatcher.ask(WhenIdle())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_JOBS_SECONDS):
                await idle
        released: list[Task] = []
        with reachable():
            ids: set[str] = await self._redis.smembers(  # type: ignore[assignment]
                self._key("running", self._replica)
            )
        for task_id in ids:
            if await self._release(task_id):
                task = await self._get(UUID(task_id), None)
                if task is not None:
                    released.append(task)
        return tuple(released)

    # --- waiting --------------------------------------------------------------------------

    def _watch(self, task_id: UUID, seen: TaskStatus, viewer: Viewer) -> Later:
        waiter: Waiter = asyncio.get_running_loop().create_future()
        if self._draining:
            return Later(self._resolve_now(waiter, task_id, viewer))
        # Registered before the record is read: a change in between wakes it too.
        self._waiters.setdefault(task_id, []).append((seen, waiter))
        waiter.add_done_callback(lambda done: self._forget(task_id, done))
        return Later(self._check(waiter, task_id, seen, viewer))

    async def _check(
        self, waiter: Waiter, task_id: UUID, seen: TaskStatus, viewer: Viewer
    ) -> Waiter:
        task = await self._read_watching(task_id, viewer)
        if (task is None or task.status is not seen or task.status.terminal) and not waiter.done():
            waiter.set_result(task)
        return waiter

    async def _read_watching(self, task_id: UUID, viewer: Viewer) -> Task | None:
        """The task, as ``_get`` reads it; its next change of status wakes this replica."""
        fields = pairs(await self._scripts("watch", task_id, self._replica))
        if not fields or (viewer is not None and fields.get("owner", "") != viewer):
            return None
        return task_from(fields, task_id=task_id)

    async def _resolve_now(self, waiter: Waiter, task_id: UUID, viewer: Viewer) -> Waiter:
        waiter.set_result(await self._get(task_id, viewer))
        return waiter

    def _forget(self, task_id: UUID, waiter: Waiter) -> None:
        # Answered or given up on: either way nobody waits on it any more.
        with contextlib.suppress(ActorStoppedError):
            self.tell(_DropWaiter(task_id, waiter))

    def _drop(self, task_id: UUID, waiter: Waiter) -> None:
        waiters = self._waiters.get(task_id)
        if waiters is not None:
            waiters[:] = [(seen, w) for seen, w in waiters if w is not waiter]
            if not waiters:
                del self._waiters[task_id]

    async def _answer_waiters(self, waiting: list[tuple[UUID, list[Waiter]]]) -> tuple[Task, ...]:
        """Shutting down: every long-poll gets the task as it is now. Nothing is cancelled.

        Without Redis, a long-poll's watch is withdrawn instead: its request then reads
        the task itself, and answers 503 as every other does.
        """
        for task_id, waiters in waiting:
            try:
                task = await self._get(task_id, None)
            except UnavailableError:
                for waiter in waiters:
                    waiter.cancel()
                continue
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(task)
        return ()

    async def _recheck(self, waiting: list[tuple[UUID, list[tuple[TaskStatus, Waiter]]]]) -> None:
        """Look again at each task someone waits for, as after a change (see ``_check``).

        Whoever still waits (the task is back at the status it saw) is watching again.
        """
        for task_id, waiters in waiting:
            task = await self._get(task_id, None)
            for seen, waiter in waiters:
                if not waiter.done() and (task is None or task.status is not seen):
                    waiter.set_result(task)
            if task is not None and any(not waiter.done() for _, waiter in waiters):
                await self._read_watching(task_id, None)


def _matches(fields: dict[str, str], query: ListTasks) -> bool:
    return (
        (query.status is None or fields["status"] == query.status)
        and (query.task_type is None or fields["type"] == query.task_type)
        and (query.viewer is None or fields.get("owner", "") == query.viewer)
    )


def _moment(text: str) -> datetime:
    moment = from_us(text)
    assert moment is not None  # noqa: S101 - the script always sends it
    return moment
