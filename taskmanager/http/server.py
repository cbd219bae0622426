"""``taskmanager serve``: check the configuration, then serve the API with uvicorn."""

from __future__ import annotations

import asyncio
import copy
import sys
from types import FrameType
from typing import Any

import uvicorn

from taskmanager.actors.system import ActorSystem
from taskmanager.config import ConfigurationError, load_settings
from taskmanager.http.app import create_app


class DrainingServer(uvicorn.Server):
    """A uvicorn server that starts draining the actors the moment a stop signal arrives.

    Uvicorn waits for open connections before it runs the lifespan shutdown; draining
    first answers long-polls and closes event streams, so that wait is short.
    """

    def __init__(self, config: uvicorn.Config, system: ActorSystem) -> None:
        super().__init__(config)
        self.system = system
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Remember the loop, so the signal handler can reach it."""
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Begin draining, then let uvicorn stop as usual."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.system.begin_shutdown)
        super().handle_exit(sig, frame)


def _log_config() -> dict[str, Any]:
    """Uvicorn's logging, with the service's own loggers printed the same way."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["taskmanager"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def serve(*, host: str, port: int, reload: bool) -> None:
    """Check the settings and run the server until it is told to stop."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        sys.exit(f"taskmanager: {exc}")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        # Streams and long-polls are answered by the drain; this bounds anything else.
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_grace)),
        "proxy_headers": False,  # X-Forwarded-For is judged by the rate limiter's trusted proxies
        "log_level": "info",
        "log_config": _log_config(),
    }
    if reload:
        uvicorn.run(
            "taskmanager.http.app:create_app",
            factory=True,
            reload=True,
            reload_dirs=["taskmanager"],
            **options,
        )
        return
    app = create_app(settings)
    DrainingServer(uvicorn.Config(app, **options), app.state.system).run()
