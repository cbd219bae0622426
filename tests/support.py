"""Test helpers: a clock moved by hand, a way to let the actors finish what they can,
request bodies and a submit helper."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taskmanager.actors.messages import GetTask, SubmitTask
from taskmanager.actors.model import JobOptions, ParametersObject, Task
from taskmanager.actors.runtime import Actor
from taskmanager.demo import ComputeSum, GenerateReport, SimulateError

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# Request bodies, one of each kind, for the tests that need "a task".
SUM = {"task_type": "compute_sum", "parameters": {"numbers": [1, 2, 3.5]}}
REPORT = {"task_type": "generate_report", "parameters": {"title": "quarterly", "sections": 2}}
FAILING = {"task_type": "simulate_error", "parameters": {}}


def sum_of(*numbers: float, **options: Any) -> dict[str, Any]:
    """A compute_sum submission, with job options if given."""
    return {"task_type": "compute_sum", "parameters": {"numbers": list(numbers)}, **options}


#: The demo task type each demo parameters model belongs to.
TYPE_OF = {
    ComputeSum: "compute_sum",
    GenerateReport: "generate_report",
    SimulateError: "simulate_error",
}


async def submit_to(system, parameters=None, **options: Any):
    """Submit straight to a system's store (a sum of 1, 2, 3 by default); return the task."""
    parameters = parameters or ComputeSum(numbers=(1, 2, 3))
    return await _created(system, TYPE_OF[type(parameters)], parameters, (), options)


async def submit_typed(
    system, task_type: str, parameters: dict[str, Any], depends_on=(), **options: Any
) -> Task:
    """Submit a task of one of the system's types, its parameters validated by its model."""
    model = system.task_types[task_type].parameters.model_validate(parameters)
    return await _created(system, task_type, model, tuple(depends_on), options)


async def _created(system, task_type: str, parameters, depends_on, options) -> Task:
    message = SubmitTask(
        task_type,
        ParametersObject.of(parameters),
        JobOptions(**options),
        depends_on=depends_on,
    )
    task = await system.store.ask(message)
    assert isinstance(task, Task), task
    return task


async def current(system, task: Task) -> Task:
    """The task as the system's store has it now; it must still be there."""
    found = await system.store.ask(GetTask(task.task_id))
    assert found is not None
    return found


def start_refused(**env: str) -> str:
    """Start the server with ``env`` added; it must stop at once with one line, no traceback.

    The line is returned for the caller to check what it names.
    """
    result = subprocess.run(
        [sys.executable, "-m", "taskmanager", "--port", "1"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended: neither running nor a zombie left unreaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


async def submit(client, body: dict[str, Any] | None = None, **headers: str) -> str:
    """Submit a task (a sum by default) and return its id; anything but 202 fails the test."""
    response = await client.post("/tasks", json=body or SUM, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


async def task_of(client, task_id: str) -> dict[str, Any]:
    """The task as GET /tasks/{id} answers it."""
    response = await client.get(f"/tasks/{task_id}")
    assert response.status_code == 200, response.text
    return response.json()


# The actors settle() watches: every actor system a test builds registers its actors,
# and they are forgotten when the test ends.
_WATCHED: set[Actor] = set()
# Rounds of the event loop in a row in which no actor took a message: a job that woke up
# reaches its worker within a few rounds, so this many quiet rounds mean nothing is left.
QUIET_ROUNDS = 8
# Real time settle() may take at most: Redis answers in well under a millisecond.
SETTLE_SECONDS = 10.0


def watch(actors: Iterable[Actor]) -> None:
    """Make settle() wait for these actors too."""
    _WATCHED.update(actors)


def unwatch(actors: Iterable[Actor]) -> None:
    """Make settle() ignore these actors (a replica a test lets hang, then kills)."""
    _WATCHED.difference_update(actors)


def forget_watched() -> None:
    """Stop watching every actor: the test that built them has ended."""
    _WATCHED.clear()


def _activity() -> list[tuple[int, bool]]:
    return [(actor.handled, actor.idle or not actor.alive) for actor in _WATCHED]


async def settle() -> None:
    """Let the actors run until every one is idle and nothing moves for a while.

    Watches only what the actors show (how many messages each took, whether it waits
    for one with nothing left to answer): it replaces "sleep a little and hope", and
    needs no private event-loop state. Waiting for Redis is not idle: it goes on until
    the answers are in.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    quiet, seen = 0, _activity()
    while time.monotonic() < deadline:
        await asyncio.sleep(0)
        now = _activity()
        if now == seen and all(idle for _, idle in now):
            quiet += 1
            if quiet == QUIET_ROUNDS:
                return
        else:
            quiet, seen = 0, now
    busy = [actor.name for actor in _WATCHED if actor.alive and not actor.idle]
    raise AssertionError(f"the actors never settled; busy: {busy}")


class FakeClock:
    """A clock that moves only when a test calls ``advance``."""

    def __init__(self) -> None:
        self._now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self._now)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its moment and letting it run."""
        target = self._now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, wake = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not wake.done():
                wake.set_result(None)
            await settle()
        self._now = target
        await settle()

    async def jump(self, seconds: float) -> None:
        """Move time forward at once, as a suspended process sees it when it wakes.

        Every sleeper that came due meanwhile wakes together, at the new time.
        """
        await settle()
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
        await settle()


def http_scope(
    path: str,
    query: bytes = b"",
    headers: tuple = (),
    spec_version: str = "2.3",
    method: str = "GET",
) -> dict:
    """The ASGI scope of a request, for tests that drive the app with their own receive/send."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }


class Stream:
    """A raw ASGI client for one event stream, so each chunk is seen as it is sent."""

    def __init__(self, app, query: bytes = b"", headers=()) -> None:
        self.app = app
        self.chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self.status: int | None = None
        self.headers: dict[bytes, bytes] = {}
        self.hang_up = asyncio.Event()
        self.buffer = b""
        scope = http_scope("/events", query, tuple(headers), spec_version="2.4")
        self.task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self):
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
        else:
            await self.chunks.put(message.get("body", b""))

    async def messages(self, count: int) -> list[dict]:
        """The next ``count`` SSE messages (comments included as {"comment": ...})."""
        found: list[dict] = []
        while len(found) < count:
            while b"\n\n" not in self.buffer:
                self.buffer += await asyncio.wait_for(self.chunks.get(), 5)
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            message: dict = {}
            for line in raw.decode().splitlines():
                field, _, value = line.partition(":")
                message[field or "comment"] = value.strip()
            if "retry" not in message:
                found.append(message)
        return found

    async def message(self) -> dict:
        """The next SSE message."""
        (message,) = await self.messages(1)
        return message

    async def close(self) -> None:
        self.hang_up.set()
        await self.task
