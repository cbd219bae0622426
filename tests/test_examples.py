"""The example task types in examples/jobs.py, run as the README starts them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support import FakeClock, watch

from examples import jobs
from taskmanager.actors.messages import SubmitTask, WatchTask
from taskmanager.actors.model import JobOptions, ParametersObject, Task, TaskStatus
from taskmanager.actors.system import ActorSystem
from taskmanager.jobs import Context

ROOT = Path(__file__).parents[1]
EXAMPLE_TASKS = "taskmanager.demo,examples.jobs"


@pytest.fixture
async def system(clock: FakeClock, make_settings) -> AsyncIterator[ActorSystem]:
    actors = ActorSystem(make_settings(tasks=EXAMPLE_TASKS), clock)
    watch(actors.actors)
    await actors.start()
    yield actors
    await actors.stop()


async def run(system: ActorSystem, task_type: str, parameters: dict) -> Task:
    """Submit a task and return it once it has finished."""
    spec = system.task_types[task_type]
    params = spec.parameters.model_validate(parameters)
    task = await system.store.ask(SubmitTask(task_type, ParametersObject.of(params), JobOptions()))
    assert isinstance(task, Task)
    async with asyncio.timeout(20):
        while not task.status.terminal:
            future = await system.store.ask(WatchTask(task.task_id, task.status))
            found = await future
            assert found is not None
            task = found
    return task


def test_the_readme_command_finds_the_examples_from_the_repository_root():
    code = "from taskmanager.config import load_settings; print(*load_settings().tasks)"
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"TASKMANAGER_TASKS": EXAMPLE_TASKS, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "compute_sum",
        "generate_report",
        "simulate_error",
        "checksum",
        "fetch_url",
    ]


@pytest.mark.backends("memory", "redis")
async def test_checksum_is_the_iterated_sha256_of_the_text(system):
    done = await run(system, "checksum", {"text": "hello", "rounds": 25_000})
    expected = b"hello"
    for _ in range(25_000):
        expected = hashlib.sha256(expected).digest()
    assert done.status is TaskStatus.COMPLETED
    assert done.result == expected.hex()
    assert done.progress == 1.0


def test_checksum_reports_progress_and_stops_once_cancelled():
    reports: list[float] = []
    ctx = Context(
        uuid.uuid4(),
        1,
        report=reports.append,
        schedule=lambda flush: flush(),
        sleep=asyncio.sleep,
        logger=logging.getLogger("test"),
    )
    jobs.checksum(jobs.Checksum(text="x", rounds=30_000), ctx)
    assert reports == [1 / 3, 2 / 3, 1.0]
    ctx.cancel()
    with pytest.raises(jobs.Cancelled, match="after 10000 rounds"):
        jobs.checksum(jobs.Checksum(text="x", rounds=30_000), ctx)


async def test_fetch_url_reads_status_size_and_digest(system):
    body = b"hello from a test server"

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        done = await run(system, "fetch_url", {"url": f"http://127.0.0.1:{port}/report?x=1"})
    finally:
        server.close()
        await server.wait_closed()
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result == {
        "status": 200,
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }


async def test_fetch_url_fails_as_connection_refused_error_and_may_be_retried(system):
    spec = system.task_types["fetch_url"]
    with pytest.raises(ConnectionRefusedError) as raised:
        await spec.function(spec.parameters(url="http://127.0.0.1:9/"), None)
    assert spec.retries(raised.value)
    done = await run(system, "fetch_url", {"url": "http://127.0.0.1:9/"})
    assert done.status is TaskStatus.FAILED
    assert done.error is not None
    assert done.error.type == "connection_refused_error"
