"""``taskmanager serve``: check the configuration, then serve the API with uvicorn.

With ``TASKMANAGER_PROCESSES`` above one (and Redis), this process binds the port and
runs that many server processes on it, each a replica of its own: it stops them on
SIGTERM or SIGINT, starts another when one dies, and ends once they all have; they end
when it does, even when it is killed (``taskmanager.replicas``).
"""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import signal
import socket
import sys
from types import FrameType
from typing import Any

import uvicorn

from taskmanager.actors.system import ActorSystem
from taskmanager.config import ConfigurationError, Settings, load_settings
from taskmanager.http.app import create_app
from taskmanager.replicas import exit_with, supervise

logger = logging.getLogger("taskmanager.server")

#: Seconds replica processes get past the shutdown grace to end, before they are killed.
STOP_MARGIN = 5.0
#: Allocations between collections of the youngest generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 7000


class DrainingServer(uvicorn.Server):
    """A uvicorn server that starts draining the actors the moment a stop signal arrives.

    Uvicorn waits for open connections before it runs the lifespan shutdown; draining
    first answers long-polls and closes event streams, so that wait is short.
    """

    def __init__(self, config: uvicorn.Config, system: ActorSystem) -> None:
        super().__init__(config)
        self.system = system
        self.loop: asyncio.AbstractEventLoop | None = None
        self.interrupted = False

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Remember the loop, so the signal handler can reach it."""
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Begin draining, then let uvicorn stop as usual.

        A second SIGTERM changes nothing (a process group and a parent may both send
        one), nor does a first SIGINT after a SIGTERM (Ctrl-C reaches replica processes
        both from the terminal and, as SIGTERM, from their parent, in either order); a
        second SIGINT, a person pressing Ctrl-C again, stops at once.
        """
        first_interrupt = sig == signal.SIGINT and not self.interrupted
        self.interrupted = self.interrupted or sig == signal.SIGINT
        if self.should_exit and (sig == signal.SIGTERM or first_interrupt):
            return
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


def _tune_gc() -> None:
    """Collect garbage less often: the store holds many long-lived objects, all in memory.

    A full collection walks every tracked object, so at the default pace a long backlog
    of tasks costs more in collections than in handling requests (``./run.sh bench``
    measured a fifth of the CPU). The service makes little cyclic garbage, so a young
    generation ten times the default costs little memory; what was built at start-up is
    frozen out of the collections altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


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
    if not reload:
        # Ctrl-C ends the process by SIGINT, as a shell expects, without a KeyboardInterrupt
        # traceback: uvicorn re-raises the signal once it has shut down, to the handler it
        # found when it started (the supervisor of several processes handles it itself).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if settings.processes > 1:
        _serve_processes(settings, options)
        return
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
    _tune_gc()
    DrainingServer(uvicorn.Config(app, **options), app.state.system).run()


def _serve_in_child(sockets: list[socket.socket], options: dict[str, Any]) -> None:
    """One replica process: its own actors, serving the socket its parent bound."""
    app = create_app(load_settings())
    _tune_gc()
    DrainingServer(uvicorn.Config(app, **options), app.state.system).run(sockets=sockets)


def _serve_processes(settings: Settings, options: dict[str, Any]) -> None:
    """Run replica processes on one port until SIGTERM or SIGINT, then end as they did."""
    config = uvicorn.Config("taskmanager.http.app:create_app", factory=True, **options)
    sock = config.bind_socket()
    logger.info(
        "serving with %d processes on %s:%s", settings.processes, options["host"], options["port"]
    )
    try:
        status = supervise(
            _serve_in_child,
            ([sock], options),
            count=settings.processes,
            stop_within=settings.shutdown_grace + STOP_MARGIN,
            restart_pause=settings.restart_pause,
        )
    finally:
        sock.close()
    exit_with(status)
