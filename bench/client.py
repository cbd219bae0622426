"""A raw HTTP/1.1 client, lighter than the servers it measures.

Blocking calls for control requests (each on its own connection, the body de-chunked), a
GET timed to its first and last byte, a response reader for asyncio clients that keep
their connections alive, and an event loop like the served one to run those clients on.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bench.server import HOST


def http_call(
    port: int, method: str, path: str, body: bytes = b"", timeout: float = 60
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection; the body de-chunked."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    return parse_response(b"".join(chunks))


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of one complete HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(lines[0].split()[1]), headers, body


def dechunk(data: bytes) -> bytes:
    """Undo chunked transfer encoding."""
    out = bytearray()
    position = 0
    while True:
        end = data.index(b"\r\n", position)
        size = int(data[position:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


def timed_get(port: int, path: str) -> tuple[float, float, int]:
    """Seconds to the first response byte and to the last, and the bytes received."""
    with socket.create_connection((HOST, port), timeout=300) as sock:
        start = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        chunk = sock.recv(1 << 20)
        first = time.perf_counter() - start
        size = len(chunk)
        while chunk := sock.recv(1 << 20):
            size += len(chunk)
        return first, time.perf_counter() - start, size


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response with a Content-Length, from a kept-alive connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(None, 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, await reader.readexactly(length)


class KeptAlive:
    """One kept-alive HTTP/1.1 connection of an asyncio client, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> KeptAlive:
        """Connect to a loopback port."""
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read its answer: the status and the body."""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        return await read_response(self.reader)

    def close(self) -> None:
        """Hang up."""
        self.writer.close()


def run_on_uvloop[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on uvloop when it is installed (as uvicorn does), else on asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional, as in uvicorn

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)
