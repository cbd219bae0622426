"""Servers for the client's tests: the app on an ASGI transport, in a thread, in a process.

``Client`` is synchronous and httpx's ASGI transport buffers whole responses (so it
cannot carry an event stream): those tests talk to the real app served by uvicorn in a
thread of the test process (``live_server``), or to ``python -m taskmanager`` in a child
process (``bench.server``). The app in a thread may keep a fake clock; ``server.call``
runs a coroutine (``clock.advance``) in the server's event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import pytest
import uvicorn
from support import FakeClock

from taskmanager.client import AsyncClient, Client
from taskmanager.http.app import create_app

START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn that says when it listens."""

    def __init__(self, config: uvicorn.Config, listening: threading.Event) -> None:
        super().__init__(config)
        self.listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class LiveServer:
    """The app (optionally wrapped) served by uvicorn in a thread on a loopback port."""

    def __init__(self, app: Any, clock: FakeClock | None, wrap: Callable[[Any], Any] | None):
        self.app = app
        self.clock = clock
        self.system = app.state.system
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._listening = threading.Event()
        config = uvicorn.Config(
            wrap(app) if wrap else app, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = _Server(config, self._listening)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._socket])

    def start(self) -> None:
        self._thread.start()
        if not self._listening.wait(START_TIMEOUT):
            raise RuntimeError("the live server did not start")

    def call[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the server's event loop and return its result."""
        assert self._loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(START_TIMEOUT)

    def advance(self, seconds: float) -> None:
        """Move the server's fake clock."""
        assert self.clock is not None
        self.call(self.clock.advance(seconds))

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.system.begin_shutdown)
            self._server.should_exit = True
            self._thread.join(START_TIMEOUT)
        self._socket.close()


@pytest.fixture
def live_server(make_settings) -> Iterator[Callable[..., LiveServer]]:
    """``live_server(fake_clock=True, wrap=None, **settings)``: a started server."""
    servers: list[LiveServer] = []

    def make(
        *, fake_clock: bool = True, wrap: Callable[[Any], Any] | None = None, **settings: Any
    ) -> LiveServer:
        clock = FakeClock() if fake_clock else None
        app = create_app(make_settings(**settings), clock)
        server = LiveServer(app, clock, wrap)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def make_sync_client() -> Iterator[Callable[..., Client]]:
    """``make_sync_client(url, **options)``: a ``Client``, closed after the test."""
    clients: list[Client] = []

    def make(url: str, **options: Any) -> Client:
        client = Client(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class Recorder(httpx.AsyncBaseTransport):
    """An ASGI transport that remembers every request it carried."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
async def make_api(make_client, clock: FakeClock) -> AsyncIterator[Callable[..., Any]]:
    """``await make_api(**settings)``: an ``AsyncClient`` on the app's ASGI transport.

    It sleeps by moving the app's fake clock, so a wait it makes (after a 429) is seen
    by the rate limiter at once. ``api.recorder.requests`` lists what it sent.
    """
    clients: list[AsyncClient] = []

    async def make(*, client_options: dict[str, Any] | None = None, **settings: Any) -> Any:
        http = await make_client(**settings)
        recorder = Recorder(http.app)
        options = {"sleep": clock.advance} | (client_options or {})
        api = AsyncClient("http://testserver", transport=recorder, **options)
        api.recorder = recorder  # type: ignore[attr-defined]
        api.app = http.app  # type: ignore[attr-defined]
        clients.append(api)
        return api

    yield make
    for api in clients:
        await api.close()


@pytest.fixture
async def api(make_api):
    return await make_api()
