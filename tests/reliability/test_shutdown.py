"""A real server process, stopped with SIGTERM while clients wait on it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.server import Server, taskmanager_server

# Signals to a real server and exits timed against its grace period: alone, not under the
# load of a parallel run (./run.sh test runs tests marked serial on a quiet machine).
pytestmark = pytest.mark.serial

GRACE = 2
PORTS = range(8400, 8500)
REPORT = {"task_type": "generate_report", "parameters": {"title": "long", "sections": 10}}
SETTINGS = {
    "shutdown_grace": GRACE,
    "time_scale": 1,
    "rate_limit": "1000/second",
    "long_poll_timeout": 60,  # only the drain may answer the long-polls
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """``python -m taskmanager`` in a child process, answering /healthz."""
    with taskmanager_server(tmp_path, ports=PORTS, settings=SETTINGS) as running:
        yield running


async def wait_until(server: Server, client: httpx.AsyncClient, condition, seconds: float) -> None:
    """Poll the server until ``condition(client)`` holds, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.process.poll() is None, f"the server died:\n{server.output()}"
        with contextlib.suppress(httpx.TransportError):
            if await condition(client):
                return
        assert time.monotonic() < deadline, f"gave up waiting:\n{server.output()}"
        await asyncio.sleep(0.05)


async def wait_for_exit(server: Server, seconds: float) -> int | None:
    """The exit status, or None when the process still runs after ``seconds``."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        return await asyncio.to_thread(server.process.wait, max(0.0, seconds))
    return None


def gauge(metrics: str, name: str) -> int:
    match = re.search(rf"^{name} (\d+)$", metrics, re.MULTILINE)
    assert match is not None, metrics
    return int(match[1])


async def read_stream(client: httpx.AsyncClient) -> bytes:
    async with client.stream("GET", "/events") as response:
        assert response.status_code == 200
        return b"".join([chunk async for chunk in response.aiter_raw()])


@pytest.mark.slow
async def test_sigterm_answers_every_client_and_ends_within_the_grace_period(server: Server):
    async with httpx.AsyncClient(base_url=server.url(), timeout=30) as client:
        ids = [(await client.post("/tasks", json=REPORT)).json()["task_id"] for _ in range(7)]
        running, queued = ids[:5], ids[5:]
        polls = [
            asyncio.create_task(client.get(f"/tasks/{task_id}", params={"wait": "true"}))
            for task_id in ids
        ]
        stream = asyncio.create_task(read_stream(client))

        async def everyone_waits(client: httpx.AsyncClient) -> bool:
            metrics = (await client.get("/metrics")).text
            return (
                gauge(metrics, "taskmanager_long_poll_waiters") == len(ids)
                and gauge(metrics, "taskmanager_event_streams") == 1
                and gauge(metrics, 'taskmanager_workers{state="busy"}') == len(running)
            )

        await wait_until(server, client, everyone_waits, 10)

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        async with asyncio.timeout(GRACE + 2):
            answers = await asyncio.gather(*polls)
            events = await stream
        status = await wait_for_exit(server, GRACE + 2 - (time.monotonic() - signalled))

    output = server.output()
    # Uvicorn finishes its shutdown, then re-raises SIGTERM: Popen reports -15, which a
    # shell shows as 143, the conventional status after SIGTERM.
    assert status in (0, 143, -signal.SIGTERM), f"status {status}, output:\n{output}"
    assert "Finished server process" in output
    assert time.monotonic() - signalled < GRACE + 2
    assert "Traceback" not in output, output
    assert [answer.status_code for answer in answers] == [200] * len(ids)
    statuses = {answer.json()["task_id"]: answer.json()["status"] for answer in answers}
    assert statuses == dict.fromkeys(running, "processing") | dict.fromkeys(queued, "cancelled")
    assert events.startswith(b"retry: 2000\n\n")
    assert events.endswith(b"\n\n")
    for task_id in queued:
        assert f"task {task_id} was queued; cancelled before it started" in output, output
    for task_id in running:
        assert f"task {task_id} still running after the {float(GRACE)} s grace period" in output


async def test_ctrl_c_ends_the_server_quietly(server: Server):
    os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    status = await wait_for_exit(server, GRACE + 2)
    output = server.output()
    # Ended by SIGINT, as a shell expects after Ctrl-C (it shows 130).
    assert status == -signal.SIGINT, f"status {status}, output:\n{output}"
    assert "Finished server process" in output
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output
