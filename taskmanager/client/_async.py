"""``AsyncClient``: Task Manager from asyncio code, with the same methods as ``Client``."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Self, cast
from uuid import UUID

import httpx

from taskmanager.actors.events import Resync
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.schedules import Schedule
from taskmanager.client import _protocol as protocol
from taskmanager.client._protocol import Call, EventFeed, Order, Retrying, StreamItem, TaskRef
from taskmanager.client.errors import TaskManagerError, Unreachable


class AsyncClient:
    """A connection pool to one Task Manager; ``await close()`` it or use ``async with``.

    The same as ``Client``, awaited; ``sleep`` is a coroutine function. Close what
    ``list``, ``events`` and ``follow`` return when leaving them early
    (``contextlib.aclosing``), so their connection is given back at once.
    """

    def __init__(  # noqa: PLR0913 - all but the URL are keywords with defaults
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = protocol.DEFAULT_TIMEOUT,
        retries: int = protocol.DEFAULT_RETRIES,
        retry_budget: float = protocol.DEFAULT_RETRY_BUDGET,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        url, headers, http_timeout = protocol.http_options(base_url, api_key, timeout)
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=http_timeout, transport=transport
        )
        self.timeout = timeout
        self.retries = retries
        self.retry_budget = retry_budget
        self._sleep = sleep or asyncio.sleep  # looked up now, so a test may replace it

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def submit(  # noqa: PLR0913 - the submission's fields, by name
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
        return protocol.submitted(await self._send(call))

    async def openapi(self) -> dict[str, Any]:
        """The service's OpenAPI document: its task types and their parameters, among others."""
        document: dict[str, Any] = (await self._send(Call("GET", "/openapi.json"))).json()
        return document

    async def get(self, task_id: UUID | str) -> Task:
        """The task as it is now."""
        response = await self._send(Call("GET", protocol.task_path(task_id)))
        return protocol.TASK.validate_json(response.content)

    async def wait(self, task_id: UUID | str, timeout: float | None = None) -> Task:
        """The task once it has finished, or as it is after ``timeout`` seconds.

        Long-polls: each request is held by the server until the task's status changes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        task: Task | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return task if task is not None else await self.get(task_id)
            try:
                response = await self._send(protocol.wait_call(task_id, self.timeout, remaining))
            except Unreachable as exc:
                if not isinstance(exc.__cause__, httpx.ReadTimeout):
                    raise
                task = None  # the client cut the poll short: ask again
                continue
            task = protocol.TASK.validate_json(response.content)
            if task.status.terminal:
                return task

    async def cancel(self, task_id: UUID | str) -> Task:
        """Cancel the task; raises ``Conflict`` (with the task) when it had already finished."""
        response = await self._send(Call("DELETE", protocol.task_path(task_id)))
        return protocol.TASK.validate_json(response.content)

    async def list(
        self,
        *,
        status: TaskStatus | str | None = None,
        task_type: str | None = None,
        order: Order = "oldest",
        page_size: int = protocol.DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Task]:
        """Every task that matches, a page at a time: the next page is asked for when needed."""
        call: Call | None = protocol.list_call(status, task_type, order, page_size)
        while call is not None:
            response = await self._send(call)
            for task in protocol.TASKS.validate_json(response.content):
                yield task
            call = protocol.next_page(response)

    async def events(
        self, *, task_id: UUID | str | None = None, last_event_id: str | None = None
    ) -> AsyncIterator[StreamItem]:
        """The live changes of every task (or of one), for as long as the caller reads them.

        A dropped stream is opened again after the delay the server asked for, resuming
        after the last event seen; ``Resync`` says that changes were missed for good.
        The request is sent on the first ``anext()``; ``subscribe()`` sends it at once.
        """
        async with self.subscribe(task_id=task_id, last_event_id=last_event_id) as subscription:
            async for item in subscription:
                yield item

    def subscribe(
        self, *, task_id: UUID | str | None = None, last_event_id: str | None = None
    ) -> AsyncSubscription:
        """The event stream, opened by ``async with`` and read after it.

        Take a snapshot (``list``, ``get``) inside the block, before reading: no change
        can fall between the snapshot and the stream.
        """
        feed = EventFeed(task_id, last_event_id)

        async def connect() -> httpx.Response:
            return await self._send(feed.call(self.timeout), stream=True)

        return AsyncSubscription(feed, connect, self._sleep)

    async def follow(self, task_id: UUID | str) -> AsyncIterator[Task]:
        """The task now, then again after each change until it finishes; from the events."""
        async with self.subscribe(task_id=task_id) as subscription:
            task = await self.get(task_id)  # subscribed first, read second
            yield task
            while not task.status.terminal:
                item = await subscription.next()
                if isinstance(item, Resync):
                    task = await self.get(task_id)
                else:
                    task = protocol.changed(item)
                yield task

    async def put_schedule(  # noqa: PLR0913 - the schedule's fields, by name
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
        return protocol.SCHEDULE.validate_json((await self._send(call)).content)

    async def get_schedule(self, name: str) -> Schedule:
        """The schedule, with its next due time and the task it made last."""
        response = await self._send(Call("GET", protocol.schedule_path(name)))
        return protocol.SCHEDULE.validate_json(response.content)

    async def schedules(self) -> builtins.list[Schedule]:
        """Every schedule this client may see, by name."""
        response = await self._send(Call("GET", "/schedules"))
        return protocol.SCHEDULES.validate_json(response.content)

    async def delete_schedule(self, name: str) -> Schedule:
        """Delete the schedule (its tasks stay) and return it as it was."""
        response = await self._send(Call("DELETE", protocol.schedule_path(name)))
        return protocol.SCHEDULE.validate_json(response.content)

    async def pause(self) -> bool:
        """Pause the queue: no attempt starts until ``resume``. Needs an admin key, if any."""
        response = await self._send(protocol.queue_call(paused=True))
        return bool(response.json()["paused"])

    async def resume(self) -> bool:
        """Resume the queue; returns whether it is still paused (False)."""
        response = await self._send(protocol.queue_call(paused=False))
        return bool(response.json()["paused"])

    async def _send(self, call: Call, *, stream: bool = False) -> httpx.Response:
        """Send ``call``, trying again after a 429, a 503 or a failed connection."""
        retrying = Retrying(self.retries, self.retry_budget)
        while True:
            try:
                return await self._try(call, stream=stream)
            except TaskManagerError as failure:
                wait = retrying.delay(failure)
                if wait is None:
                    raise
            await self._sleep(wait)

    async def _try(self, call: Call, *, stream: bool) -> httpx.Response:
        request = call.request(self._http)
        try:
            response = await self._http.send(request, stream=stream)
            if response.is_error and stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except httpx.TransportError as exc:
            raise protocol.unreachable(exc, request.url) from exc
        if response.is_error:
            raise protocol.error_of(response)
        return response


class AsyncSubscription:
    """An open event stream: subscribed once ``open()`` (or ``async with``) returns.

    A dropped stream is opened again after the delay the server asked for, resuming
    after the last event seen; ``aclose()`` ends it.
    """

    def __init__(
        self,
        feed: EventFeed,
        connect: Callable[[], Awaitable[httpx.Response]],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.feed = feed
        self.connect = connect
        self.sleep = sleep
        self.response: httpx.Response | None = None
        self.lines: AsyncGenerator[str] | None = None

    async def open(self) -> None:
        """Open the stream: once this returns, the server has subscribed it."""
        if self.response is None:
            self.response = await self.connect()

    async def next(self) -> StreamItem:
        """The next event (or resync), across as many reconnections as it takes."""
        while True:
            await self.open()
            assert self.response is not None  # noqa: S101 - open() set it
            if self.lines is None:
                self.lines = cast("AsyncGenerator[str]", self.response.aiter_lines())
            try:
                async for line in self.lines:
                    item = self.feed.feed(line)
                    if item is not None:
                        return item
            except httpx.TransportError:
                pass  # the stream broke off: open it again, after the server's delay
            await self.aclose()
            await self.sleep(self.feed.reconnecting())

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamItem:
        return await self.next()

    async def aclose(self) -> None:
        """Close the response, if one is open."""
        lines, response = self.lines, self.response
        self.lines = self.response = None
        with contextlib.suppress(httpx.TransportError):
            if lines is not None:
                await lines.aclose()
            if response is not None:
                await response.aclose()
