"""Pure asyncio actors: task store, dispatcher, workers, event hub, rate limiter, janitor.

Nothing in this package imports FastAPI.
"""

from taskmanager.actors.runtime import (
    Actor,
    ActorStoppedError,
    Kill,
    Later,
    MailboxFullError,
    Request,
    Supervisor,
    UnavailableError,
)
from taskmanager.actors.system import ActorSystem

__all__ = [
    "Actor",
    "ActorStoppedError",
    "ActorSystem",
    "Kill",
    "Later",
    "MailboxFullError",
    "Request",
    "Supervisor",
    "UnavailableError",
]
