"""Pause and resume the queue: an operator holds every attempt, on every replica."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from taskmanager.actors.messages import PauseQueue
from taskmanager.actors.system import ActorSystem
from taskmanager.http.admission import caller_of
from taskmanager.http.schemas import ErrorBody

router = APIRouter(prefix="/queue", tags=["operations"])


class QueueState(BaseModel):
    """Whether the queue is paused: then no attempt starts until it resumes."""

    paused: bool


_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "With API keys: a key that is not an admin's"},
    429: {"model": ErrorBody, "description": "Too many requests from this client"},
}


async def _set(request: Request, *, paused: bool) -> QueueState | JSONResponse:
    caller = caller_of(request.scope)
    if caller.key_name is not None and not caller.admin:
        return JSONResponse({"detail": "pausing the queue is for admin keys only"}, 403)
    system: ActorSystem = request.app.state.system
    return QueueState(paused=await system.store.ask(PauseQueue(paused)))


@router.post(
    "/pause",
    summary="Pause the queue",
    description=(
        "No attempt starts until `POST /queue/resume`, on any replica; running tasks go on "
        "and submissions are still accepted. `/stats` shows `paused`. It holds across "
        "restarts when the state lives in Redis. Pausing a paused queue is fine."
    ),
    response_model=QueueState,
    responses={200: {"content": {"application/json": {"example": {"paused": True}}}}, **_RESPONSES},
)
async def pause_queue(request: Request) -> QueueState | JSONResponse:
    """Hold every attempt until the queue resumes."""
    return await _set(request, paused=True)


@router.post(
    "/resume",
    summary="Resume the queue",
    description="Queued tasks start again, in their order. Resuming a running queue is fine.",
    response_model=QueueState,
    responses={
        200: {"content": {"application/json": {"example": {"paused": False}}}},
        **_RESPONSES,
    },
)
async def resume_queue(request: Request) -> QueueState | JSONResponse:
    """Let attempts start again."""
    return await _set(request, paused=False)
