"""Pure asyncio actors: task store, dispatcher, workers, event hub, rate limiter, janitor.

Nothing in this package imports FastAPI.
"""

from taskmanager.actors.runtime import (
    Actor,
    ActorStoppedError,
    Kill,
    MailboxFullError,
    Request,
    Supervisor,
)
from taskmanager.actors.system import ActorSystem

__all__ = [
    "Actor",
    "ActorStoppedError",
    "ActorSystem",
    "Kill",
    "MailboxFullError",
    "Request",
    "Supervisor",
]
