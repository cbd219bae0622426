"""What ``Client`` and ``AsyncClient`` share: the requests, how answers are read, retries.

Nothing here does I/O or sleeps, so the two clients differ only in how they send a
request and how they wait.
"""

from __future__ import annotations

import email.utils
import math
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import TypeAdapter, ValidationError

from taskmanager.actors.events import Event, Resync
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.schedules import Schedule
from taskmanager.client.errors import (
    APIError,
    BadRequest,
    Conflict,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TaskManagerError,
    Unauthorized,
    Unreachable,
)
from taskmanager.client.sse import SSEDecoder

TASK: Final = TypeAdapter(Task)
TASKS: Final = TypeAdapter(list[Task])
EVENT: Final = TypeAdapter(Event)
SCHEDULE: Final = TypeAdapter(Schedule)
SCHEDULES: Final = TypeAdapter(list[Schedule])

type Order = Literal["oldest", "newest"]
type TaskRef = Task | UUID | str
"""A task as the client's methods take it: the task itself, or its id."""
type StreamItem = Event | Resync
"""What ``events()`` yields: a task's change, or ``Resync`` when changes were missed."""

DEFAULT_TIMEOUT: Final = 30.0
#: Tries after the first for a request refused with 429 or 503, or not answered at all.
DEFAULT_RETRIES: Final = 3
#: Seconds one call may spend waiting between its tries.
DEFAULT_RETRY_BUDGET: Final = 60.0
#: The first pause after a connection failed; it doubles with each try.
CONNECT_BACKOFF: Final = 0.25
#: Seconds before a dropped event stream is opened again, until the server says otherwise.
RESUME_DELAY: Final = 2.0
#: Seconds of silence after which an event stream counts as dropped (the server pings
#: every 15 s).
STREAM_SILENCE: Final = 45.0
DEFAULT_PAGE_SIZE: Final = 500

# Failures in which the request surely did not run, or running it again does no harm
# (every request the clients send is safe to repeat, see ``Call``).
_RETRIED_TRANSPORT_ERRORS: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, ready to be sent (and sent again: every call is safe to repeat).

    GET is safe, PUT and DELETE are idempotent (a second cancel answers 200 or the same
    409), pausing or resuming twice is the same as once, and every ``POST /tasks``
    carries an ``Idempotency-Key``, so a repeat returns the first task.
    """

    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: httpx.Timeout | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The httpx request for this call on ``http``."""
        return http.build_request(
            self.method,
            self.path,
            params=self.params,
            json=self.json,
            headers=self.headers,
            timeout=self.timeout if self.timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )


def http_options(
    base_url: str, api_key: str | None, timeout: float
) -> tuple[str, dict[str, str], httpx.Timeout]:
    """The base URL, default headers and timeout both clients give httpx."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url {base_url!r} is not a URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    headers = {"Accept": "application/json", "User-Agent": "taskmanager-client"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return base_url, headers, httpx.Timeout(timeout)


class Retrying:
    """One call's retries: how many were made and how long they waited."""

    def __init__(self, retries: int, budget: float) -> None:
        self.retries = retries
        self.budget = budget
        self.tries = 0
        self.waited = 0.0

    def delay(self, failure: TaskManagerError) -> float | None:
        """Seconds to wait before trying again, or None: raise ``failure``."""
        wait = _suggested_wait(failure, self.tries)
        if wait is None or self.tries >= self.retries or self.waited + wait > self.budget:
            return None
        self.tries += 1
        self.waited += wait
        return wait


def _suggested_wait(failure: TaskManagerError, tries: int) -> float | None:
    """How long to wait before repeating a call that failed this way; None: do not."""
    if isinstance(failure, RateLimited):
        return failure.retry_after
    if isinstance(failure, ServiceUnavailable):
        return 1.0 if failure.retry_after is None else failure.retry_after
    if isinstance(failure, Unreachable) and isinstance(
        failure.__cause__, _RETRIED_TRANSPORT_ERRORS
    ):
        return CONNECT_BACKOFF * 2.0**tries
    return None


def unreachable(exc: httpx.TransportError, url: httpx.URL) -> Unreachable:
    """The client's error for a request that got no answer."""
    timed_out = isinstance(exc, httpx.TimeoutException)
    what = "timed out" if timed_out else (str(exc) or type(exc).__name__)
    return Unreachable(
        f"no answer from {url.scheme}://{url.netloc.decode()}: {what}", timed_out=timed_out
    )


def error_of(response: httpx.Response) -> APIError:
    """The client's error for an error answer (its body already read)."""
    status = response.status_code
    body = _json_object(response)
    detail = str(body.get("detail") or response.reason_phrase or f"HTTP {status}")
    match status:
        case 400 | 413 | 415 | 422:
            return BadRequest(detail, status_code=status)
        case 401:
            return Unauthorized(detail, status_code=status)
        case 404:
            return NotFound(detail, status_code=status)
        case 409:
            task = None
            if isinstance(body.get("task"), dict):
                try:
                    task = TASK.validate_python(body["task"])
                except ValidationError:
                    task = None
            return Conflict(detail, task=task)
        case 429:
            return RateLimited(detail, retry_after=retry_after(response) or 1.0)
        case 503:
            return ServiceUnavailable(detail, retry_after=retry_after(response))
        case _:
            return APIError(detail, status_code=status)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None when absent."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def task_path(task_id: UUID | str) -> str:
    """The path of one task; an id is quoted, so a malformed one stays one path segment."""
    return f"/tasks/{quote(str(task_id), safe='')}"


def task_id_of(task: TaskRef) -> str:
    """The id of a task given as itself or as its id."""
    return str(task.task_id if isinstance(task, Task) else task)


def submit_call(  # noqa: PLR0913 - the submission's fields, by name
    task_type: str,
    parameters: Mapping[str, Any] | None,
    *,
    priority: int | None,
    delay: float | None,
    timeout: float | None,
    max_retries: int | None,
    depends_on: Iterable[TaskRef] | None,
    idempotency_key: str | None,
) -> Call:
    """``POST /tasks``, with a fresh idempotency key unless one is given."""
    body: dict[str, Any] = {"task_type": str(task_type), "parameters": dict(parameters or {})}
    options = {"priority": priority, "delay": delay, "timeout": timeout, "max_retries": max_retries}
    body |= {name: value for name, value in options.items() if value is not None}
    if isinstance(depends_on, Task | UUID | str):
        # A string is iterable too: its characters would go as 36 "ids".
        raise TypeError("depends_on takes a list of tasks or task ids, not one")
    if depends_on is not None:
        body["depends_on"] = [task_id_of(task) for task in depends_on]
    key = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
    return Call("POST", "/tasks", json=body, headers={"Idempotency-Key": key})


def schedule_path(name: str) -> str:
    """The path of one schedule, quoted, so a malformed name stays one path segment."""
    return f"/schedules/{quote(name, safe='')}"


def put_schedule_call(  # noqa: PLR0913 - the schedule's fields, by name
    name: str,
    task_type: str,
    parameters: Mapping[str, Any] | None,
    *,
    every: int | None,
    cron: str | None,
    timezone: str | None,
    priority: int | None,
    delay: float | None,
    timeout: float | None,
    max_retries: int | None,
) -> Call:
    """``PUT /schedules/{name}``: create or replace it."""
    body: dict[str, Any] = {"task_type": str(task_type), "parameters": dict(parameters or {})}
    fields = {
        "every": every,
        "cron": cron,
        "timezone": timezone,
        "priority": priority,
        "delay": delay,
        "timeout": timeout,
        "max_retries": max_retries,
    }
    body |= {field: value for field, value in fields.items() if value is not None}
    return Call("PUT", schedule_path(name), json=body)


def queue_call(*, paused: bool) -> Call:
    """``POST /queue/pause`` or ``/queue/resume``."""
    return Call("POST", "/queue/pause" if paused else "/queue/resume")


def submitted(response: httpx.Response) -> Task:
    """What ``POST /tasks`` answered: the new task (202), or the original one (200)."""
    return TASK.validate_json(response.content)


def wait_call(task_id: UUID | str, timeout: float, remaining: float | None) -> Call:
    """A long-poll, cut short by the client at the caller's deadline if that comes first.

    The server answers after its own long-poll timeout (10 s unless configured); one
    that holds longer than the client's ``timeout`` is cut then, and polled again.
    """
    read = timeout if remaining is None else max(min(timeout, remaining), 0.001)
    return Call(
        "GET",
        task_path(task_id),
        params={"wait": "true"},
        timeout=httpx.Timeout(timeout, read=read),
    )


def list_call(
    status: TaskStatus | str | None, task_type: str | None, order: Order, page_size: int
) -> Call:
    """The first page of a listing; the next ones come from its ``Link`` header."""
    params: dict[str, str | int] = {"limit": page_size, "order": order}
    if status is not None:
        params["status"] = str(status)
    if task_type is not None:
        params["task_type"] = str(task_type)
    return Call("GET", "/tasks", params=params)


def next_page(response: httpx.Response) -> Call | None:
    """The call for the page after this one, or None on the last page."""
    link = response.links.get("next")
    if link is None or "url" not in link:
        return None
    return Call("GET", link["url"])


class EventFeed:
    """A subscriber's place in the event log: where to resume and how long to wait first."""

    def __init__(self, task_id: UUID | str | None, last_event_id: str | None) -> None:
        self.task_id = task_id
        self.decoder = SSEDecoder(last_event_id)

    def call(self, timeout: float) -> Call:
        """``GET /events``, resuming after the last event seen."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.decoder.last_event_id is not None:
            headers["Last-Event-ID"] = self.decoder.last_event_id
        params = None if self.task_id is None else {"task_id": str(self.task_id)}
        silence = httpx.Timeout(timeout, read=max(timeout, STREAM_SILENCE))
        return Call("GET", "/events", params=params, headers=headers, timeout=silence)

    def feed(self, line: str) -> StreamItem | None:
        """One line of the stream; an event or a resync once a message is complete."""
        message = self.decoder.feed(line)
        if message is None:
            return None
        if message.event == "resync":
            return Resync()
        return EVENT.validate_json(message.data)

    def reconnecting(self) -> float:
        """Forget a cut-off message; the seconds to wait before opening the stream again."""
        self.decoder.discard_partial()
        return self.decoder.retry if self.decoder.retry is not None else RESUME_DELAY


def changed(event: Event) -> Task:
    """The task an event carries; ``NotFound`` when the event says it was removed."""
    if event.task is None:
        raise NotFound(f"task {event.task_id} was removed", status_code=404)
    return event.task
