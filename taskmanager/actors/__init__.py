"""Pure asyncio actors: task store, dispatcher, workers, rate limiter and janitor.

Nothing in this package imports FastAPI.
"""

from taskmanager.actors.runtime import (
    Actor,
    ActorKilledError,
    ActorStoppedError,
    Kill,
    MailboxFullError,
    Request,
    Supervisor,
)
from taskmanager.actors.system import ActorSystem

__all__ = [
    "Actor",
    "ActorKilledError",
    "ActorStoppedError",
    "ActorSystem",
    "Kill",
    "MailboxFullError",
    "Request",
    "Supervisor",
]
