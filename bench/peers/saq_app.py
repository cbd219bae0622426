"""FastAPI + SAQ: POST /tasks validates the body and enqueues the job; a SAQ worker runs it.

``python -m bench.peers.saq_app --host H --port P`` with ``PEER_REDIS_URL`` and
``PEER_WORKERS`` set; run by the peers' interpreter (``bench.peers.env``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from saq import Queue, Worker  # type: ignore[import-not-found]

from bench.baseline import TaskRequest
from bench.peers.serve import serve


async def compute_sum(ctx: dict[str, Any], *, numbers: list[float]) -> float:  # noqa: ARG001 - SAQ's signature
    """The job: the sum, as the product's compute_sum at TIME_SCALE=0."""
    return sum(numbers)


def create_app() -> FastAPI:
    """The endpoint, with the worker started and stopped by the app's lifespan."""
    queue = Queue.from_url(os.environ["PEER_REDIS_URL"])
    worker = Worker(queue, functions=[compute_sum], concurrency=int(os.environ["PEER_WORKERS"]))
    worker.SIGNALS = []  # uvicorn handles SIGTERM; the lifespan stops the worker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await queue.connect()
        running = asyncio.create_task(worker.start())
        yield
        await worker.stop()
        await asyncio.wait({running})
        await queue.disconnect()

    app = FastAPI(title="FastAPI + SAQ", lifespan=lifespan)

    @app.post("/tasks", status_code=202)
    async def submit_task(body: TaskRequest) -> dict[str, str]:
        job = await queue.enqueue("compute_sum", **body.parameters.model_dump())
        return {"task_id": job.key, "status": "queued"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    serve("bench.peers.saq_app:create_app")
