"""The product's /tasks API as the benchmarks call it, over the raw client."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from bench.client import http_call, read_response
from bench.server import HOST

SUBMIT_BODY = '{"task_type":"compute_sum","parameters":{"numbers":[1,2,3]}}'
TERMINAL = {"completed", "failed", "cancelled"}


def submit_task(port: int) -> str:
    """POST one task; its id."""
    status, _, body = http_call(port, "POST", "/tasks", SUBMIT_BODY.encode())
    if status != 202:  # noqa: PLR2004
        raise SystemExit(f"bench: product POST /tasks answered {status}: {body[:300]!r}")
    task_id: str = json.loads(body)["task_id"]
    return task_id


def list_tasks(port: int, query: str = "") -> list[dict[str, Any]]:
    """GET /tasks, parsed."""
    status, _, body = http_call(port, "GET", "/tasks" + query, timeout=300)
    if status != 200:  # noqa: PLR2004
        raise SystemExit(f"bench: GET /tasks{query} answered {status}: {body[:200]!r}")
    tasks: list[dict[str, Any]] = json.loads(body)
    return tasks


def wait_drained(port: int, timeout: float = 300) -> None:
    """Wait until no task is queued or processing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not list_tasks(port, "?status=queued&limit=1") and not list_tasks(
            port, "?status=processing&limit=1"
        ):
            return
        time.sleep(0.05)
    raise SystemExit("bench: the product did not drain its queue in time")


def timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time."""
    return datetime.fromisoformat(text).timestamp()


async def submit_many(port: int, count: int, connections: int = 32) -> list[str]:
    """POST ``count`` tasks over keep-alive connections; their ids in submission order."""
    ids: list[str | None] = [None] * count
    body = SUBMIT_BODY.encode()
    request = (
        b"POST /tasks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    cursor = iter(range(count))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for index in cursor:
                writer.write(request)
                status, reply = await read_response(reader)
                if status != 202:  # noqa: PLR2004
                    raise SystemExit(f"bench: POST /tasks answered {status}: {reply[:200]!r}")
                ids[index] = json.loads(reply)["task_id"]
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return [task_id for task_id in ids if task_id is not None]


def queue_depth(port: int) -> int:
    """Tasks waiting for a worker, from GET /stats (on Redis: in the whole service)."""
    status, _, body = http_call(port, "GET", "/stats")
    if status != 200:  # noqa: PLR2004
        raise SystemExit(f"bench: GET /stats answered {status}: {body[:200]!r}")
    depth: int = json.loads(body)["queue_depth"]
    return depth
