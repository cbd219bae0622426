from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from support import FakeClock, forget_watched, settle, watch

from taskmanager.actors.system import ActorSystem
from taskmanager.config import Settings
from taskmanager.http.app import create_app


@pytest.fixture(autouse=True)
async def no_task_left_behind() -> AsyncIterator[None]:
    """After each test, the asyncio tasks are back to what they were."""
    before = asyncio.all_tasks()
    yield
    await settle()
    forget_watched()
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert not left, f"asyncio tasks left behind: {left}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"rate_limit": "10000/second", "shutdown_grace": 0} | overrides
        return Settings.model_validate(values)

    return make


@pytest.fixture
async def system(clock: FakeClock, make_settings) -> AsyncIterator[ActorSystem]:
    actors = ActorSystem(make_settings(), clock)
    watch(actors.actors)
    await actors.start()
    yield actors
    await actors.stop()


@pytest.fixture
def fast_path() -> bool:
    """Whether the app answers the hottest requests on its fast path (a module may vary it)."""
    return True


@pytest.fixture
async def make_client(
    clock: FakeClock, make_settings, fast_path: bool
) -> AsyncIterator[Callable[..., Any]]:
    """Build an app with the given settings, run its lifespan, and give an HTTP client."""
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def make(client_ip: str = "127.0.0.1", **overrides: Any) -> httpx.AsyncClient:
        app = create_app(make_settings(**overrides), clock, fast_path=fast_path)
        watch(app.state.system.actors)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        client.app = app  # type: ignore[attr-defined]
        stack.append((lifespan, client))
        return client

    yield make
    for lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(make_client) -> httpx.AsyncClient:
    return await make_client()
