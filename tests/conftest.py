from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from support import FakeClock, forget_watched, settle, watch

from bench.server import redis_server
from taskmanager.actors.system import ActorSystem
from taskmanager.config import Settings
from taskmanager.http.app import create_app

REDIS_PORTS = range(8500, 8600)
PHASES = ("all", "parallel", "serial")
#: What a module that marks a test serial says in its text; the serial phase imports only
#: those modules (collecting all the others takes seconds, to deselect every test).
SERIAL_MARK = "pytest.mark.serial"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--phase",
        choices=PHASES,
        default="all",
        help="parallel: leave out the tests marked serial; serial: only those (./run.sh test "
        "runs the first on every core, then the second alone)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the serial phase, leave out the test modules that mark no test serial."""
    if config.getoption("phase") != "serial" or not _is_test_module(collection_path):
        return None
    return SERIAL_MARK not in collection_path.read_text()


def _is_test_module(path: Path) -> bool:
    return path.suffix == ".py" and path.name.startswith("test_")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests of the phase asked for; the others are reported as deselected."""
    phase = config.getoption("phase")
    if phase == "all":
        return
    wanted = phase == "serial"
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        serial = item.get_closest_marker("serial") is not None
        if serial and SERIAL_MARK not in item.path.read_text():
            # The serial phase would not even import its module: the test would never run.
            raise pytest.UsageError(f"{item.nodeid} is serial, but its module lacks {SERIAL_MARK}")
        (kept if serial == wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A redis-server of this test session's own, on a free port, keeping nothing on disk."""
    server = redis_server(tmp_path_factory.mktemp("redis"), ports=REDIS_PORTS)
    with server:
        yield f"redis://127.0.0.1:{server.port}/0"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``pytest.mark.backends("memory", "redis")`` runs a test once per backend."""
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", marker.args)


@pytest.fixture
def backend() -> str:
    """Where the state lives: "memory", unless the test is marked with other backends."""
    return "memory"


@pytest.fixture
def make_settings(request, backend: str) -> Iterator[Callable[..., Settings]]:
    """Settings for a test: a high rate limit, no shutdown grace, and the test's backend.

    On Redis every test has a key prefix of its own, and its keys go when it ends.
    """
    shared: dict[str, Any] = {}
    prefixes: set[str] = set()
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        shared = {"redis_url": url, "redis_prefix": f"t{uuid.uuid4().hex[:12]}"}

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"rate_limit": "10000/second", "shutdown_grace": 0}
        settings = Settings.model_validate(values | shared | overrides)
        prefixes.add(settings.redis_prefix)
        return settings

    yield make
    if shared:
        for prefix in prefixes:
            flush_prefix(shared["redis_url"], prefix)


def flush_prefix(url: str, prefix: str) -> None:
    """Delete every key of one test."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


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
