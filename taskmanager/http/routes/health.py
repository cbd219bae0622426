"""The health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from taskmanager.actors.messages import CheckHealth
from taskmanager.actors.system import ActorSystem
from taskmanager.http.operations import BUSY_ERRORS
from taskmanager.http.schemas import Health

#: How long the health check waits for the store (Redis answers in well under that).
HEALTH_SECONDS = 1.5

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Health check",
    response_model=Health,
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "detail": ""}}}},
        503: {
            "model": Health,
            "description": "An actor is dead or keeps crashing, or Redis cannot be reached",
        },
    },
)
async def get_health(request: Request) -> JSONResponse:
    """200 while every actor runs, none keeps crashing and the state can be reached."""
    system: ActorSystem = request.app.state.system
    if not system.healthy:
        detail = "an actor stopped or keeps crashing; see the log"
    else:
        try:
            if await system.store.ask(CheckHealth(), timeout=HEALTH_SECONDS):
                return JSONResponse({"status": "ok", "detail": ""})
            detail = "the store cannot reach Redis"
        except BUSY_ERRORS:
            detail = "the store does not answer"
    headers = {"Retry-After": "1"}
    return JSONResponse({"status": "unhealthy", "detail": detail}, 503, headers=headers)
