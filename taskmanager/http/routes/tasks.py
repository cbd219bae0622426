"""The task API: submit, read (and long-poll), list, cancel."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from taskmanager.actors.messages import ListTasks, Order, TaskPage
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.runtime import Actor
from taskmanager.actors.system import ActorSystem
from taskmanager.http import examples, operations
from taskmanager.http.admission import caller_of, counted_by_store
from taskmanager.http.operations import JSON_MEDIA_TYPE
from taskmanager.http.schemas import TASKS, ConflictBody, ErrorBody

router = APIRouter(prefix="/tasks", tags=["tasks"])

LIST_CHUNK: Final = 256
#: Tasks asked of the store at a time while a listing without ``limit`` streams.
LIST_PAGE: Final = 1_000

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many requests from this client"}
}
_BAD_ID: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The id is not a UUID"},
    404: {"model": ErrorBody, "description": "No such task (or it was cleaned up)"},
}


def _system(request: Request) -> ActorSystem:
    system: ActorSystem = request.app.state.system
    return system


@router.post(
    "",
    status_code=202,
    summary="Submit a task",
    description=(
        "Queue a task; it runs on the next idle worker. The answer is the task, as "
        "`GET /tasks/{task_id}` returns it; follow it at `Location`."
    ),
    response_model=Task,
    responses={
        202: {
            "content": {JSON_MEDIA_TYPE: {"examples": examples.SUBMITTED}},
            "headers": {"Location": {"description": "The new task", "schema": {"type": "string"}}},
        },
        200: {
            "model": Task,
            "description": (
                "The Idempotency-Key was used before with the same body: the original task"
            ),
            "headers": {"Location": {"description": "The task", "schema": {"type": "string"}}},
        },
        400: {"model": ErrorBody, "description": "Invalid JSON, task type or parameters"},
        409: {"model": ErrorBody, "description": "The Idempotency-Key was used for another body"},
        413: {"model": ErrorBody, "description": "The body is larger than 1 MiB"},
        415: {"model": ErrorBody, "description": "The body is not JSON"},
        503: {
            "model": ErrorBody,
            "description": "The store is full or the service is shutting down; see `Retry-After`",
        },
        **_RATE_LIMITED,
    },
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Send the same key again to get the original task, not a new one",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[\\x21-\\x7e]+$",  # as operations.IDEMPOTENCY_KEY
                },
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {
                    # The examples follow from the task types, in create_app.
                    "schema": {"$ref": "#/components/schemas/TaskRequest"},
                }
            },
        },
    },
)
async def submit_task(request: Request) -> Response:
    """Validate the body, hand the task to the store and answer 202 with the task."""
    headers = request.headers
    reply = await operations.submit(
        _system(request),
        request.app.state.requests,
        content_type=headers.get("content-type", ""),
        content_length=headers.get("content-length"),
        idempotency_key=headers.get("idempotency-key"),
        receive=request.receive,
        caller=caller_of(request.scope),
        counts_here=counted_by_store(request.scope),
    )
    return reply.response()


@router.get(
    "/{task_id}",
    summary="Get a task, or wait for it to change",
    description=(
        "With `wait=true`, a task that is not finished is held until its status changes "
        "or the long-poll timeout passes; a progress update alone does not end the wait."
    ),
    response_model=Task,
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.TASKS}}},
        **_BAD_ID,
        **_RATE_LIMITED,
    },
)
async def get_task(
    task_id: UUID,
    request: Request,
    wait: Annotated[bool, Query(description="Long-poll until the status changes")] = False,  # noqa: FBT002
) -> Response:
    """Answer with the task, at once or after its status changes."""
    viewer = caller_of(request.scope).viewer
    reply = await operations.read(
        _system(request), task_id, wait=wait, receive=request.receive, viewer=viewer
    )
    return reply.response()


@router.get(
    "",
    summary="List tasks",
    description=(
        "Oldest first, or newest first with `order=newest`; streamed, so long lists start "
        "arriving at once. With `limit`, when more tasks match, the `Link` header names the "
        'next page (`rel="next"`): following it continues exactly where this page ended, '
        "with no task skipped or repeated while tasks come and go."
    ),
    response_model=list[Task],
    responses={
        200: {
            "content": {JSON_MEDIA_TYPE: {"examples": examples.LIST}},
            "headers": {
                "Link": {
                    "description": 'The next page: `</tasks?...&cursor=...>; rel="next"`',
                    "schema": {"type": "string"},
                }
            },
        },
        400: {
            "model": ErrorBody,
            "description": "Unknown status, order or type, limit out of range, or a bad cursor",
        },
        **_RATE_LIMITED,
    },
)
async def list_tasks(  # noqa: PLR0913, PLR0917 - one argument per query parameter
    request: Request,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status")] = None,
    task_type: Annotated[str | None, Query(description="Only tasks of this type")] = None,
    order: Annotated[Order, Query(description="`oldest` first (default) or `newest`")] = "oldest",
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="At most this many, with a next page")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            pattern=operations.CURSOR_PATTERN,
            description="Where the previous page ended: take it from the `Link` header",
        ),
    ] = None,
) -> Response:
    """Stream the tasks as one JSON array, with the next page in ``Link``."""
    types = _system(request).task_types
    if task_type is not None and task_type not in types:
        expected = ", ".join(types)
        detail = f"task_type: unknown task type {task_type!r}, expected one of {expected}"
        return operations.error(400, detail).response()
    after = None if cursor is None else operations.decode_cursor(cursor)
    query = ListTasks(
        limit or LIST_PAGE, status, task_type, order, after, caller_of(request.scope).viewer
    )
    store = _system(request).store
    first = await store.ask(query)
    if limit is not None:
        headers = {}
        if first.next_after is not None:
            headers["Link"] = _next_link(request, first.next_after)
        return StreamingResponse(
            _json_array(_pages(store, first, None)), headers=headers, media_type=JSON_MEDIA_TYPE
        )
    return StreamingResponse(_json_array(_pages(store, first, query)), media_type=JSON_MEDIA_TYPE)


def _next_link(request: Request, after: int) -> str:
    params = [
        (name, value) for name, value in request.query_params.multi_items() if name != "cursor"
    ]
    params.append(("cursor", operations.encode_cursor(after)))
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'


async def _pages(store: Actor, page: TaskPage, query: ListTasks | None) -> AsyncIterator[Task]:
    """The tasks of ``page``, then (with ``query``) of every page after it."""
    while True:
        for task in page.tasks:
            yield task
        if query is None or page.next_after is None:
            return
        query = dataclasses.replace(query, after=page.next_after)
        page = await store.ask(query)


async def _json_array(tasks: AsyncIterator[Task]) -> AsyncIterator[bytes]:
    """The tasks as a JSON array, encoded a chunk at a time."""
    yield b"["
    chunk: list[Task] = []
    first = True
    async for task in tasks:
        chunk.append(task)
        if len(chunk) == LIST_CHUNK:
            yield (b"" if first else b",") + TASKS.dump_json(chunk)[1:-1]
            chunk, first = [], False
    if chunk:
        yield (b"" if first else b",") + TASKS.dump_json(chunk)[1:-1]
    yield b"]"


@router.delete(
    "/{task_id}",
    summary="Cancel a task",
    description=(
        "A queued task never runs; a processing one is stopped inside its worker. "
        "Cancelling a cancelled task again is fine."
    ),
    response_model=Task,
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.CANCELLED}}},
        409: {"model": ConflictBody, "description": "The task already completed or failed"},
        **_BAD_ID,
        **_RATE_LIMITED,
    },
)
async def cancel_task(task_id: UUID, request: Request) -> Response:
    """Cancel the task and answer with it."""
    reply = await operations.cancel(_system(request), task_id, caller_of(request.scope).viewer)
    return reply.response()
