"""Pure asyncio actors: task store, dispatcher, workers, event hub, rate limiter, janitor.

Nothing in this package imports FastAPI. ``ActorSystem`` is imported on first use: it
brings the settings (and pydantic-settings) with it, which the Python client, reading
only the records in ``model`` and ``events``, never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    if name == "ActorSystem":
        from taskmanager.actors.system import ActorSystem  # noqa: PLC0415 - see the docstring

        return ActorSystem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
