"""The task API: submit, read (and long-poll), list, cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Final
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from taskmanager.actors.messages import (
    CancelTask,
    ListTasks,
)
from taskmanager.actors.model import Task, TaskStatus
from taskmanager.actors.system import ActorSystem
from taskmanager.http import examples, operations
from taskmanager.http.operations import JSON_MEDIA_TYPE
from taskmanager.http.schemas import (
    TASKS,
    ConflictBody,
    ErrorBody,
    Submitted,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

LIST_CHUNK: Final = 256

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
    description="Queue a task; it runs on the next idle worker. Follow it at `Location`.",
    response_model=Submitted,
    responses={
        202: {
            "headers": {"Location": {"description": "The new task", "schema": {"type": "string"}}}
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
                    "schema": {"$ref": "#/components/schemas/TaskRequest"},
                    "examples": examples.SUBMIT,
                }
            },
        },
    },
)
async def submit_task(request: Request) -> Response:
    """Validate the body, hand the task to the store and answer 202 with its id."""
    headers = request.headers
    reply = await operations.submit(
        _system(request),
        content_type=headers.get("content-type", ""),
        content_length=headers.get("content-length"),
        idempotency_key=headers.get("idempotency-key"),
        body=request.stream(),
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
    reply = await operations.read(_system(request), task_id, wait=wait, receive=request.receive)
    return reply.response()


@router.get(
    "",
    summary="List tasks",
    description="Oldest first; streamed, so long lists start arriving at once.",
    response_model=list[Task],
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.LIST}}},
        400: {"model": ErrorBody, "description": "Unknown status or limit out of range"},
        **_RATE_LIMITED,
    },
)
async def list_tasks(
    request: Request,
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="At most this many")] = None,
) -> StreamingResponse:
    """Stream the tasks as one JSON array."""
    tasks = await _system(request).store.ask(ListTasks(status, limit))
    return StreamingResponse(_json_array(tasks), media_type=JSON_MEDIA_TYPE)


async def _json_array(tasks: Sequence[Task]) -> AsyncIterator[bytes]:
    """The tasks as a JSON array, encoded a chunk at a time."""
    yield b"["
    for start in range(0, len(tasks), LIST_CHUNK):
        chunk = TASKS.dump_json(list(tasks[start : start + LIST_CHUNK]))[1:-1]
        yield chunk if start == 0 else b"," + chunk
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
    task = await _system(request).store.ask(CancelTask(task_id))
    if task is None:
        return operations.not_found(task_id).response()
    if task.status is TaskStatus.CANCELLED:
        return operations.task_reply(task).response()
    conflict = ConflictBody(detail=f"task {task_id} already {task.status}", task=task)
    return Response(conflict.model_dump_json(), 409, media_type=JSON_MEDIA_TYPE)
