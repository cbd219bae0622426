"""``Client``: Task Manager from synchronous code."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self
from uuid import UUID

import httpx

from taskmanager.actors.events import Resync
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.schedules import Schedule
from taskmanager.client import _protocol as protocol
from taskmanager.client._protocol import Call, EventFeed, Order, Retrying, StreamItem, TaskRef
from taskmanager.client.errors import TaskManagerError, Unreachable


class Client:
    """A connection pool to one Task Manager; close it with ``close()`` or a ``with`` block.

    ``retries`` and ``retry_budget`` bound how often and how long one call waits out a
    429 or 503 (``Retry-After``) or a connection that failed, before it raises.
    ``sleep`` is how it waits; ``transport`` replaces httpx's network transport.
    """

    def __init__(  # noqa: PLR0913 - all but the URL are keywords with defaults
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = protocol.DEFAULT_TIMEOUT,
        retries: int = protocol.DEFAULT_RETRIES,
        retry_budget: float = protocol.DEFAULT_RETRY_BUDGET,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url, headers, http_timeout = protocol.http_options(base_url, api_key, timeout)
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=http_timeout, transport=transport
        )
        self.timeout = timeout
        self.retries = retries
        self.retry_budget = retry_budget
        self._sleep = sleep or time.sleep  # looked up now, so a test may replace it

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def submit(  # noqa: PLR0913 - the submission's fields, by name
        self,
        task_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        priority: int | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        depends_on: Iterable[TaskRef] | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        """Submit a task and return it as the service now has it: one request.

        With ``depends_on`` (tasks or their ids) it waits, queued, until they all
        completed; it is cancelled (``dependency_failed``) if one fails or is cancelled.
        Without ``idempotency_key`` a fresh one is made, so the client's own retries of
        this call never submit twice.
        """
        call = protocol.submit_call(
            task_type,
            parameters,
            priority=priority,
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
            depends_on=depends_on,
            idempotency_key=idempotency_key,
        )
        return protocol.submitted(self._send(call))

    def openapi(self) -> dict[str, Any]:
        """The service's OpenAPI document: its task types and their parameters, among others."""
        document: dict[str, Any] = self._send(Call("GET", "/openapi.json")).json()
        return document

    def get(self, task_id: UUID | str) -> Task:
        """The task as it is now."""
        return protocol.TASK.validate_json(
            self._send(Call("GET", protocol.task_path(task_id))).content
        )

    def wait(self, task_id: UUID | str, timeout: float | None = None) -> Task:
        """The task once it has finished, or as it is after ``timeout`` seconds.

        Long-polls: each request is held by the server until the task's status changes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        task: Task | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return task if task is not None else self.get(task_id)
            try:
                response = self._send(protocol.wait_call(task_id, self.timeout, remaining))
            except Unreachable as exc:
                if not isinstance(exc.__cause__, httpx.ReadTimeout):
                    raise
                task = None  # the client cut the poll short: ask again
                continue
            task = protocol.TASK.validate_json(response.content)
            if task.status.terminal:
                return task

    def cancel(self, task_id: UUID | str) -> Task:
        """Cancel the task; raises ``Conflict`` (with the task) when it had already finished."""
        return protocol.TASK.validate_json(
            self._send(Call("DELETE", protocol.task_path(task_id))).content
        )

    def list(
        self,
        *,
        status: TaskStatus | str | None = None,
        task_type: str | None = None,
        order: Order = "oldest",
        page_size: int = protocol.DEFAULT_PAGE_SIZE,
    ) -> Iterator[Task]:
        """Every task that matches, a page at a time: the next page is asked for when needed."""
        call: Call | None = protocol.list_call(status, task_type, order, page_size)
        while call is not None:
            response = self._send(call)
            yield from protocol.TASKS.validate_json(response.content)
            call = protocol.next_page(response)

    def events(
        self, *, task_id: UUID | str | None = None, last_event_id: str | None = None
    ) -> Iterator[StreamItem]:
        """The live changes of every task (or of one), for as long as the caller reads them.

        A dropped stream is opened again after the delay the server asked for, resuming
        after the last event seen; ``Resync`` says that changes were missed for good.
        The request is sent on the first ``next()``; ``subscribe()`` sends it at once.
        """
        with self.subscribe(task_id=task_id, last_event_id=last_event_id) as subscription:
            yield from subscription

    def subscribe(
        self, *, task_id: UUID | str | None = None, last_event_id: str | None = None
    ) -> Subscription:
        """The event stream, opened by ``with`` and read after it.

        Take a snapshot (``list``, ``get``) inside the block, before reading: no change
        can fall between the snapshot and the stream.
        """
        feed = EventFeed(task_id, last_event_id)

        def connect() -> httpx.Response:
            return self._send(feed.call(self.timeout), stream=True)

        return Subscription(feed, connect, self._sleep)

    def follow(self, task_id: UUID | str) -> Iterator[Task]:
        """The task now, then again after each change until it finishes; from the events."""
        with self.subscribe(task_id=task_id) as subscription:
            task = self.get(task_id)  # subscribed first, read second: nothing falls between
            yield task
            while not task.status.terminal:
                item = subscription.next()
                task = self.get(task_id) if isinstance(item, Resync) else protocol.changed(item)
                yield task

    def put_schedule(  # noqa: PLR0913 - the schedule's fields, by name
        self,
        name: str,
        task_type: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        every: int | None = None,
        cron: str | None = None,
        timezone: str | None = None,
        priority: int | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Schedule:
        """Create or replace schedule ``name``: a task every ``every`` seconds, or at ``cron``.

        ``cron`` has five fields and is read in ``timezone`` (an IANA name, default UTC).
        """
        call = protocol.put_schedule_call(
            name,
            task_type,
            parameters,
            every=every,
            cron=cron,
            timezone=timezone,
            priority=priority,
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
        )
        return protocol.SCHEDULE.validate_json(self._send(call).content)

    def get_schedule(self, name: str) -> Schedule:
        """The schedule, with its next due time and the task it made last."""
        response = self._send(Call("GET", protocol.schedule_path(name)))
        return protocol.SCHEDULE.validate_json(response.content)

    def schedules(self) -> builtins.list[Schedule]:
        """Every schedule this client may see, by name."""
        response = self._send(Call("GET", "/schedules"))
        return protocol.SCHEDULES.validate_json(response.content)

    def delete_schedule(self, name: str) -> Schedule:
        """Delete the schedule (its tasks stay) and return it as it was."""
        response = self._send(Call("DELETE", protocol.schedule_path(name)))
        return protocol.SCHEDULE.validate_json(response.content)

    def pause(self) -> bool:
        """Pause the queue: no attempt starts until ``resume``. Needs an admin key, if any."""
        response = self._send(protocol.queue_call(paused=True))
        return bool(response.json()["paused"])

    def resume(self) -> bool:
        """Resume the queue; returns whether it is still paused (False)."""
        response = self._send(protocol.queue_call(paused=False))
        return bool(response.json()["paused"])

    def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """Send ``call``, trying again after a 429, a 503 or a failed connection."""
        retrying = Retrying(self.retries, self.retry_budget)
        while True:
            try:
                return self._try(call, stream=stream)
            except TaskManagerError as failure:
                wait = retrying.delay(failure)
                if wait is None:
                    raise
            self._sleep(wait)

    def _try(self, call: Call, *, stream: bool) -> httpx.Response:
        request = call.request(self._http)
        try:
            response = self._http.send(request, stream=stream)
            if response.is_error and stream:
                try:
                    response.read()
                finally:
                    response.close()
        except httpx.TransportError as exc:
            raise protocol.unreachable(exc, request.url) from exc
        if response.is_error:
            raise protocol.error_of(response)
        return response


class Subscription:
    """An open event stream: subscribed once ``open()`` (or ``with``) returns, read by iterating.

    A dropped stream is opened again after the delay the server asked for, resuming
    after the last event seen; ``close()`` ends it.
    """

    def __init__(
        self,
        feed: EventFeed,
        connect: Callable[[], httpx.Response],
        sleep: Callable[[float], None],
    ) -> None:
        self.feed = feed
        self.connect = connect
        self.sleep = sleep
        self.response: httpx.Response | None = None
        self.lines: Iterator[str] | None = None

    def open(self) -> None:
        """Open the stream: once this returns, the server has subscribed it."""
        if self.response is None:
            self.response = self.connect()

    def next(self) -> StreamItem:
        """The next event (or resync), across as many reconnections as it takes."""
        while True:
            self.open()
            assert self.response is not None  # noqa: S101 - open() set it
            if self.lines is None:
                self.lines = self.response.iter_lines()
            try:
                for line in self.lines:
                    item = self.feed.feed(line)
                    if item is not None:
                        return item
            except httpx.TransportError:
                pass  # the stream broke off: open it again, after the server's delay
            self.close()
            self.sleep(self.feed.reconnecting())

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[StreamItem]:
        while True:
            yield self.next()

    def close(self) -> None:
        """Close the response, if one is open."""
        response = self.response
        self.lines = self.response = None
        if response is not None:
            response.close()
