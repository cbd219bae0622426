"""The event log in Redis: a stream every script appends to, read where someone subscribes.

A replica reads the stream only while it has ``/events`` subscribers (as BullMQ's
QueueEvents reads its events stream apart from the workers): its long-polls, its
cancels and its dispatcher learn what concerns them from its inbox and the doorbell
(``inbox.py``), so a service's cost does not grow with the square of its replicas.

Event ids are ``<epoch>-<stream id>``. The epoch is a random name kept beside the stream;
when Redis loses both (a restart without persistence), a new epoch is made, and an id
from before is answered with a resync, never continued by unrelated events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final
from uuid import UUID

from redis.asyncio import Redis

from taskmanager.actors.events import Change, EventKind, LogStarted, Published
from taskmanager.actors.model import ParametersObject
from taskmanager.actors.redis.connection import READ_BLOCK_MS, is_unreachable, reachable
from taskmanager.actors.redis.records import parse_parameters, task_from
from taskmanager.actors.runtime import Actor, ActorStoppedError

logger = logging.getLogger(__name__)

#: Most events a replay reads; a client further behind than this resyncs.
REPLAY_LIMIT: Final = 10_000
#: Events read per call while following the stream.
READ_BATCH: Final = 500
#: Tasks whose last state a following replica keeps, so events need not carry it.
KNOWN_TASKS: Final = 20_000
#: What each kind of event says without a word (the scripts leave a field out when it
#: has this value: lua/prelude.lua keeps the same table).
_IMPLIED: Final[dict[EventKind, dict[str, str]]] = {
    "submitted": {
        "status": "queued",
        "progress": "0",
        "attempts": "0",
        "priority": "0",
        "max_retries": "0",
    },
    "started": {
        "status": "processing",
        "progress": "0",
        "finished": "",
        "waitf": "",
        "attempts": "1",
    },
    "progress": {},
    "completed": {"status": "completed", "progress": "1", "etype": "", "emsg": ""},
    "failed": {"status": "failed"},
    "cancelled": {"status": "cancelled", "etype": "", "emsg": ""},
    "retrying": {"status": "queued"},
    "removed": {},
}
#: Kinds and fields as an event names them with a letter (lua/prelude.lua: KIND_CODES,
#: FIELD_CODES); events of earlier versions spell them out, and read the same.
_KINDS: Final[dict[str, EventKind]] = {
    **{kind: kind for kind in _IMPLIED},
    "n": "submitted",
    "s": "started",
    "p": "progress",
    "c": "completed",
    "f": "failed",
    "x": "cancelled",
    "r": "retrying",
    "d": "removed",
}
_FIELDS: Final = {
    "t": "type",
    "p": "params",
    "c": "created",
    "g": "progress",
    "r": "result",
    "e": "etype",
    "m": "emsg",
    "a": "attempts",
}
#: Times an event gives with a letter, as µs since the task's creation (a small number
#: takes less room in the stream); under their names, they are the times themselves.
_SINCE_CREATED: Final = {"u": "run_at", "s": "started", "f": "finished"}
#: An event's own fields: its kind, its task's id and owner.
_ENVELOPE: Final = frozenset({"k", "i", "o"})
_UUID_TEXT_LENGTH: Final = 36


@dataclass(frozen=True, slots=True)
class _Event:
    """A stream entry read: its kind, its task, and the task's fields it carries."""

    kind: EventKind
    task_id: UUID
    owner: str | None
    fields: dict[str, str]
    since_created: dict[str, str]  # times, as µs after the task's creation ('' for none)

    @classmethod
    def of(cls, entry: dict[str, str]) -> _Event:
        """The event a stream entry holds, in the names of this version or of earlier ones."""
        fields, since_created = {}, {}
        for name, value in entry.items():
            if name in _SINCE_CREATED:
                since_created[_SINCE_CREATED[name]] = value
            elif name not in _ENVELOPE:
                fields[_FIELDS.get(name, name)] = value
        task_id = _task_id(entry["i"])
        return cls(_KINDS[entry["k"]], task_id, entry.get("o") or None, fields, since_created)

    def changed(self, before: Mapping[str, str]) -> dict[str, str]:
        """The task's fields the event sets: those it carries, and those its kind implies.

        ``before`` is the task as it was (its creation time is in it, unless the event
        creates the task).
        """
        changed = _IMPLIED[self.kind] | self.fields
        changed.pop("params", None)  # kept apart, parsed once
        if self.since_created:
            created = int(changed.get("created") or before["created"])
            for name, after in self.since_created.items():
                changed[name] = str(created + int(after)) if after else ""
        if self.kind == "submitted":
            changed["id"] = str(self.task_id)
        return changed


def _task_id(text: str) -> UUID:
    """A task's id as an event writes it: in base64 (earlier versions: as a UUID's text)."""
    if len(text) == _UUID_TEXT_LENGTH:
        return UUID(text)
    return UUID(bytes=base64.urlsafe_b64decode(text + "=="))


RECONNECT_SECONDS: Final = 0.25
_STREAM_ID: Final = re.compile(r"\d{1,20}-\d{1,20}")
_MAX_PART: Final = 2**64 - 1  # a stream id's two parts are 64-bit numbers
# Replaces the epoch only if it is still the lost one (or none): replicas that find the
# loss at once agree on one new epoch. It writes one small value: even when Redis is full.
_START_OVER: Final = """#!lua flags=allow-oom
local epoch = redis.call('GET', KEYS[1])
if not epoch or epoch == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[1])
"""


def _order(stream_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = stream_id.partition("-")
    return int(milliseconds), int(sequence)


@dataclass(frozen=True, slots=True)
class Follow:
    """Read the stream after ``last`` (a stream id; None: from its start), for a follow."""

    generation: int
    epoch: str
    last: str | None


@dataclass(frozen=True, slots=True)
class Unfollow:
    """Stop reading the stream: nobody here subscribes."""


class RedisLog:
    """Replays from the stream for a client that resumes (on any replica); starts the reader."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._stream = f"{prefix}:events"
        self._epoch_key = f"{prefix}:epoch"
        self._epoch = ""
        self._reader: Actor | None = None
        # The tasks seen lately, as their last event left them (fields without the
        # parameters, and those), so that an event need not carry the whole record.
        self.known: OrderedDict[UUID, tuple[dict[str, str], ParametersObject]] = OrderedDict()

    def attach(self, reader: Actor) -> None:
        """The reader that follows the stream for this replica's subscribers."""
        self._reader = reader

    async def follow(self, generation: int) -> str | None:
        """The newest event's id; the reader publishes what comes after it."""
        epoch, newest = await self.open()
        assert self._reader is not None  # noqa: S101 - attached at start-up
        self._reader.tell(Follow(generation, epoch, newest))
        return _full(epoch, newest)

    def unfollow(self) -> None:
        """The reader stops reading."""
        if self._reader is not None:
            with contextlib.suppress(ActorStoppedError):
                self._reader.tell(Unfollow())

    @property
    def stream(self) -> str:
        """The stream's key."""
        return self._stream

    @property
    def epoch_key(self) -> str:
        """The key of the stream's name."""
        return self._epoch_key

    @property
    def epoch(self) -> str:
        """The stream's name, as the reader last read it."""
        return self._epoch

    async def oldest(self) -> str | None:
        """The oldest event the stream still keeps (its stream id)."""
        with reachable():
            first: Any = await self._redis.xrange(self._stream, count=1)
        return first[0][0] if first else None

    async def start_over(self, lost_epoch: str) -> str:
        """A new epoch in place of ``lost_epoch`` (or of none): lost ids are not continued.

        If another replica replaced it first, that one.
        """
        with reachable():
            epoch: str = await self._redis.eval(
                _START_OVER, 1, self._epoch_key, lost_epoch, secrets.token_hex(4)
            )
        self._epoch = epoch
        return epoch

    async def kept_up_to(self, last: str | None) -> str | None:
        """The newest event the stream keeps at or before ``last`` (None: there is none)."""
        if last is None:
            return None
        with reachable():
            newest: Any = await self._redis.xrevrange(self._stream, last, "-", count=1)
        return newest[0][0] if newest else None

    async def open(self) -> tuple[str, str | None]:
        """The epoch (made if there is none) and the newest event's stream id."""
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._epoch_key)
                pipe.xrevrange(self._stream, count=1)
                epoch, newest = await pipe.execute()
        if epoch is None:
            # Made once: a SET is refused while Redis is full, and readers reconnect then too.
            epoch = await self.start_over("")
        self._epoch = epoch
        return epoch, newest[0][0] if newest else None

    async def since(self, last_event_id: str, up_to: str | None) -> list[Change] | None:
        """The changes after ``last_event_id`` up to ``up_to``, or None if not exactly known."""
        epoch, _, after = last_event_id.partition("-")
        if epoch != self._epoch or not _STREAM_ID.fullmatch(after):
            return None  # malformed, another deployment, or before the log was lost
        if max(_order(after)) > _MAX_PART:
            return None  # no stream id of any log
        if up_to is None:
            return None  # nothing was published in this log yet: from its future
        up_to = up_to.partition("-")[2]
        if _order(after) > _order(up_to):
            return None  # from the future of this log
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xrange(self._stream, count=1)
                pipe.xrange(self._stream, after, after)
                pipe.xrange(self._stream, f"({after}", up_to, count=REPLAY_LIMIT + 1)
                oldest, itself, entries = await pipe.execute()
        if not oldest or _order(after) < _order(oldest[0][0]):
            return None  # older than what the stream keeps: events may have been trimmed
        if not itself:
            return None  # an event Redis lost (a crash took its last writes), or made up
        if len(entries) > REPLAY_LIMIT:
            return None
        return await self.changes(entries)

    async def changes(self, entries: Sequence[tuple[str, dict[str, str]]]) -> list[Change]:
        """Stream entries as changes, each with the task as it was right after it.

        An event carries what its change set; the task is this replica's last view of
        it with the change applied. A task first seen in the middle of its life (this
        replica began following later, or a client resumes) is read once from its record.
        """
        events = [_Event.of(fields) for _, fields in entries]
        fresh: set[UUID] = set()
        missing: set[UUID] = set()
        for event in events:
            task_id, kind = event.task_id, event.kind
            if kind == "submitted" and "params" in event.fields:
                fresh.add(task_id)
            elif kind != "removed" and task_id not in fresh and task_id not in self.known:
                missing.add(task_id)
        if missing:
            await self._read_records(sorted(missing))
        result = []
        for (stream_id, _), event in zip(entries, events, strict=True):
            task_id, kind = event.task_id, event.kind
            build = None
            if kind == "removed":
                self.known.pop(task_id, None)
            else:
                seen = self.known.get(task_id)
                if kind == "submitted" and "params" in event.fields:
                    parameters = parse_parameters(event.fields["params"])
                    self._remember(task_id, event.changed({}), parameters)
                elif seen is not None:
                    if kind == "submitted":  # large parameters: read with the record
                        self._remember(task_id, event.changed({}), seen[1])
                    else:
                        self._remember(task_id, seen[0] | event.changed(seen[0]), seen[1])
                if (now := self.known.get(task_id)) is not None:
                    build = partial(task_from, now[0], now[1])
            change_id = f"{self._epoch}-{stream_id}"
            result.append(Change(change_id, kind, task_id, None, event.owner, build))
        return result

    async def _read_records(self, task_ids: Sequence[UUID]) -> None:
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                for task_id in task_ids:
                    pipe.hgetall(f"{self._prefix}:task:{task_id}")
                records: list[dict[str, str]] = await pipe.execute()
        for task_id, record in zip(task_ids, records, strict=True):
            if record:
                parameters = parse_parameters(record.pop("params"))
                record["id"] = str(task_id)  # the key's: the record keeps none
                self._remember(task_id, record, parameters)

    def _remember(
        self, task_id: UUID, fields: dict[str, str], parameters: ParametersObject
    ) -> None:
        self.known[task_id] = (fields, parameters)
        self.known.move_to_end(task_id)
        while len(self.known) > KNOWN_TASKS:
            self.known.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _Read:
    """What one read of the log brought: events, and what the log says of itself."""

    entries: list[tuple[str, dict[str, str]]]
    epoch: str | None
    skipped: bool = False  # events after the last one read were dropped unread
    lost: bool = False  # the last one read is gone: Redis lost its latest writes


class EventReader(Actor):
    """Follows the stream while this replica has subscribers, and tells the hub, in order."""

    def __init__(self, redis: Redis, log: RedisLog) -> None:
        super().__init__("event-reader")
        self._redis = redis
        self._log = log
        self._hub: Actor | None = None
        self._reading: asyncio.Task[None] | None = None
        self._following = asyncio.Event()
        self._generation = 0
        self._epoch = ""
        self._last: str | None = None
        self.connected = False

    def attach(self, *, hub: Actor) -> None:
        """Whom to tell; call before the reader starts."""
        self._hub = hub

    async def on_start(self) -> None:
        """Start reading (once followed)."""
        self._reading = asyncio.create_task(self._read_forever(), name="event-reader:read")

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Follow from a position, or stop."""
        match message:
            case Follow(generation=generation, epoch=epoch, last=last):
                self._generation, self._epoch, self._last = generation, epoch, last
                self.connected = True  # the log was just read: it is this epoch's
                self._following.set()
            case Unfollow():
                self._following.clear()
            case _:
                raise TypeError(f"event reader got an unknown message {message!r}")

    async def on_stop(self) -> None:
        """Stop reading."""
        if self._reading is not None:
            self._reading.cancel()
            await asyncio.wait({self._reading})

    async def _read_forever(self) -> None:
        assert self._hub is not None  # noqa: S101 - attached before start
        while True:
            await self._following.wait()
            generation = self._generation
            try:
                if not self.connected:
                    await self._reconnect(generation)
                read = await self._read(self._last)
                if generation != self._generation:
                    continue  # a new follow began meanwhile: read again from its place
                if read.lost:
                    # Redis came back without events it had handed out (its last second,
                    # with appendfsync everysec): their ids must not be continued.
                    await self._log.start_over(self._epoch)
                if read.lost or read.epoch != self._epoch:
                    self.connected = False  # the log started over: connect to it again
                    continue
                if read.skipped:
                    # Fell behind what the log keeps while connected.
                    logger.warning("the event reader missed events; every feed resyncs")
                    self._tell(self._hub, LogStarted(_full(self._epoch, self._last), generation))
                if not read.entries:
                    continue
                changes = tuple(await self._log.changes(read.entries))
                if generation != self._generation:
                    continue
                self._last = read.entries[-1][0]
                self._tell(self._hub, Published(changes, generation))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not is_unreachable(error):
                    logger.exception("the event reader failed; it starts again")
                elif self.connected:
                    logger.warning("the event reader lost Redis; it reconnects: %s", error)
                self.connected = False
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _reconnect(self, generation: int) -> None:
        """Back after an error: go on where reading stopped, unless the log lost events."""
        assert self._hub is not None  # noqa: S101 - attached before start
        epoch, _ = await self._log.open()
        if epoch != self._epoch:
            # Redis lost the log, or its latest events: what it holds after the events
            # this replica read is all new here.
            logger.warning("the event log started over (Redis lost events)")
            self._epoch, self._last = epoch, await self._log.kept_up_to(self._last)
            self._tell(self._hub, LogStarted(_full(epoch, self._last), generation))
        elif self._last is not None and await self._trimmed_since(self._last):
            # Away so long that the log dropped events this replica never read.
            logger.warning("the event reader missed events; every feed resyncs")
            self._tell(self._hub, LogStarted(_full(epoch, self._last), generation))
        self.connected = True
        logger.info("following the event log from %s", self._last or "its start")

    async def _read(self, last: str | None) -> _Read:
        """The next events after ``last`` (it waits for them a while), and the log's state.

        XREAD from an id already trimmed answers with the oldest events kept, and no error;
        after a crash, Redis may not have ``last`` at all. Only the stream's record of
        itself tells, and it is read right after the events, in the same round trip.
        """
        stream = self._log.stream
        with reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xread({stream: last or "0-0"}, count=READ_BATCH, block=READ_BLOCK_MS)
                pipe.xinfo_stream(stream)
                pipe.xrange(stream, last or "0-0", last or "0-0")
                pipe.get(self._log.epoch_key)
                answer, info, itself, epoch = await pipe.execute(raise_on_error=False)
            for reply in (answer, itself, epoch):
                if isinstance(reply, Exception):
                    raise reply
        entries: list[tuple[str, dict[str, str]]] = answer[0][1] if answer else []
        if last is None or itself:
            deleted = "0-0" if isinstance(info, Exception) else info["max-deleted-entry-id"]
            return _Read(
                entries, epoch, skipped=last is not None and _order(deleted) > _order(last)
            )
        first = None if isinstance(info, Exception) else info["first-entry"]
        if first is not None and _order(first[0]) > _order(last):
            return _Read(entries, epoch, skipped=True)  # trimmed past ``last``
        return _Read(entries, epoch, lost=True)  # gone though newer than what is kept

    async def _trimmed_since(self, last: str) -> bool:
        oldest = await self._log.oldest()
        return oldest is not None and _order(oldest) > _order(last)

    @staticmethod
    def _tell(actor: Actor, message: object) -> None:
        with contextlib.suppress(ActorStoppedError):
            actor.tell(message)


def _full(epoch: str, stream_id: str | None) -> str | None:
    return None if stream_id is None else f"{epoch}-{stream_id}"
