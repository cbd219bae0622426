"""The health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from taskmanager.http.schemas import Health

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Health check",
    response_model=Health,
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok", "detail": ""}}}},
        503: {"model": Health, "description": "An actor is dead or keeps crashing"},
    },
)
async def get_health(request: Request) -> JSONResponse:
    """200 while every actor runs and none keeps crashing, else 503."""
    if request.app.state.system.healthy:
        return JSONResponse({"status": "ok", "detail": ""})
    detail = "an actor stopped or keeps crashing; see the log"
    return JSONResponse({"status": "unhealthy", "detail": detail}, status_code=503)
