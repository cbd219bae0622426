"""FastAPI + arq: POST /tasks validates the body and enqueues the job; an arq worker runs it.

``python -m bench.peers.arq_app --host H --port P`` with ``PEER_REDIS_URL`` and
``PEER_WORKERS`` set; run by the peers' interpreter (``bench.peers.env``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import create_pool  # type: ignore[import-not-found]
from arq.connections import RedisSettings  # type: ignore[import-not-found]
from arq.worker import Worker  # type: ignore[import-not-found]
from fastapi import FastAPI

from bench.baseline import TaskRequest
from bench.peers.serve import serve


async def compute_sum(ctx: dict[str, Any], numbers: list[float]) -> float:  # noqa: ARG001 - arq's signature
    """The job: the sum, as the product's compute_sum at TIME_SCALE=0."""
    return sum(numbers)


def create_app() -> FastAPI:
    """The endpoint, with the worker started and stopped by the app's lifespan."""
    settings = RedisSettings.from_dsn(os.environ["PEER_REDIS_URL"])
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["pool"] = pool = await create_pool(settings)
        worker = Worker(
            functions=[compute_sum],
            redis_pool=pool,
            max_jobs=int(os.environ["PEER_WORKERS"]),
            handle_signals=False,  # uvicorn handles SIGTERM; the lifespan stops the worker
        )
        running = asyncio.create_task(worker.async_run())
        yield
        running.cancel()
        await asyncio.wait({running})
        await worker.close()

    app = FastAPI(title="FastAPI + arq", lifespan=lifespan)

    @app.post("/tasks", status_code=202)
    async def submit_task(body: TaskRequest) -> dict[str, str]:
        numbers = body.parameters.model_dump()["numbers"]
        job = await state["pool"].enqueue_job("compute_sum", numbers)
        return {"task_id": job.job_id, "status": "queued"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    serve("bench.peers.arq_app:create_app")
