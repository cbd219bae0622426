"""Two task types of one's own, as a user writes them: copy this module and change it.

Start the service with them (from the repository's root, so ``examples`` is importable)::

    TASKMANAGER_TASKS=taskmanager.demo,examples.jobs ./run.sh dev

- ``checksum``: CPU-bound work (an iterated SHA-256), so it runs in a worker process
  (``executor="process"``) and the API stays responsive while it runs. It reports its
  progress and stops early when cancelled.
- ``fetch_url``: waiting on the network, so it is an ``async def`` on the worker's event
  loop: an HTTP GET, retried when the connection fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, HttpUrl

from taskmanager.jobs import Context, task_type

#: How many rounds pass between two progress reports (and two looks at ``cancelled``).
REPORT_EVERY = 10_000
#: Most bytes of a body ``fetch_url`` reads.
MAX_BODY = 10 * 1024 * 1024


class Checksum(BaseModel):
    """The text to hash and how many times to hash it again."""

    text: str = Field(max_length=100_000, description="The text to hash")
    rounds: int = Field(1, ge=1, le=10_000_000, description="Times SHA-256 is applied")


class Cancelled(Exception):  # noqa: N818 - its snake_case name is the error type clients see
    """The task was cancelled while the job ran; nobody reads this attempt's result."""


@task_type("checksum", executor="process", example={"text": "hello", "rounds": 100_000})
def checksum(params: Checksum, ctx: Context) -> str:
    """Iterated SHA-256 of the text, as hex: CPU-bound, so it runs in a process of its own."""
    digest = params.text.encode()
    for done in range(1, params.rounds + 1):
        digest = hashlib.sha256(digest).digest()
        if done % REPORT_EVERY == 0:
            if ctx.cancelled:
                raise Cancelled(f"stopped after {done} rounds")
            ctx.progress(done / params.rounds)
    return digest.hex()


class FetchUrl(BaseModel):
    """The address to read."""

    url: Annotated[HttpUrl, Field(description="An http:// or https:// address")]
    method: Literal["GET", "HEAD"] = "GET"


class FetchResult(BaseModel):
    """What ``fetch_url`` returns."""

    status: int
    bytes: int
    sha256: str


@task_type(
    "fetch_url",
    retry_on=(ConnectionError, asyncio.IncompleteReadError),
    example={"url": "http://127.0.0.1:8000/healthz"},
)
async def fetch_url(params: FetchUrl, ctx: Context) -> dict[str, object]:
    """Read a URL: its status, size and SHA-256. Connection failures are retried."""
    url = urlsplit(str(params.url))
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    host = url.hostname or ""
    reader, writer = await asyncio.open_connection(
        host, port, ssl=ssl.create_default_context() if secure else None
    )
    try:
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        writer.write(
            f"{params.method} {target} HTTP/1.0\r\nHost: {url.netloc}\r\n"
            "User-Agent: taskmanager-example\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass  # the headers: only the body is hashed
        ctx.logger.info("%s %s: %d", params.method, params.url, status)
        hasher, size = hashlib.sha256(), 0
        while chunk := await reader.read(64 * 1024):
            size += len(chunk)
            if size > MAX_BODY:
                raise ValueError(f"the body is larger than {MAX_BODY} bytes")
            hasher.update(chunk)
        return FetchResult(status=status, bytes=size, sha256=hasher.hexdigest()).model_dump()
    finally:
        writer.close()
        await writer.wait_closed()
