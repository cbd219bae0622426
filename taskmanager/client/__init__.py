"""Task Manager from Python: ``Client`` for plain code, ``AsyncClient`` for asyncio.

Both speak to the HTTP API with httpx and return the server's own records (``Task``,
``Event``), validated by pydantic. Importing this package does not import the server's
web stack (FastAPI, Starlette, uvicorn) nor its settings.
"""

from taskmanager.actors.events import Event, Resync
from taskmanager.actors.model import Task, TaskError, TaskStatus
from taskmanager.actors.schedules import Schedule
from taskmanager.client._async import AsyncClient, AsyncSubscription
from taskmanager.client._protocol import StreamItem
from taskmanager.client._sync import Client, Subscription
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

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncSubscription",
    "BadRequest",
    "Client",
    "Conflict",
    "Event",
    "NotFound",
    "RateLimited",
    "Resync",
    "Schedule",
    "ServiceUnavailable",
    "StreamItem",
    "Subscription",
    "Task",
    "TaskError",
    "TaskManagerError",
    "TaskStatus",
    "Unauthorized",
    "Unreachable",
]
