"""The ceiling: the endpoints a user would write by hand in FastAPI, with nothing behind them.

It validates the same POST body as Task Manager (the three task types as a discriminated
union of pydantic models, with the same constraints) and answers 202 with a fresh uuid4;
``GET /tasks/{id}`` answers a fixed completed task of the same shape as the product's.
No store, no workers, no rate limiter. Served with the same uvicorn options as
``python -m taskmanager``: ``python -m bench.baseline --host H --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, StrictInt

type Number = (
    Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
)


class ComputeSum(BaseModel):
    """Parameters of ``compute_sum``."""

    model_config = ConfigDict(extra="forbid")
    numbers: Annotated[list[Number], Field(min_length=1, max_length=10_000)]


class GenerateReport(BaseModel):
    """Parameters of ``generate_report``."""

    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=200)]
    sections: Annotated[StrictInt, Field(ge=1, le=10)] = 3


class SimulateError(BaseModel):
    """Parameters of ``simulate_error``."""

    model_config = ConfigDict(extra="forbid")
    error: Literal["value_error", "timeout", "crash"] = "value_error"


class ComputeSumRequest(BaseModel):
    """A ``compute_sum`` submission."""

    model_config = ConfigDict(extra="forbid")
    task_type: Literal["compute_sum"]
    parameters: ComputeSum


class GenerateReportRequest(BaseModel):
    """A ``generate_report`` submission."""

    model_config = ConfigDict(extra="forbid")
    task_type: Literal["generate_report"]
    parameters: GenerateReport


class SimulateErrorRequest(BaseModel):
    """A ``simulate_error`` submission."""

    model_config = ConfigDict(extra="forbid")
    task_type: Literal["simulate_error"]
    parameters: SimulateError = SimulateError()


type TaskRequest = Annotated[
    ComputeSumRequest | GenerateReportRequest | SimulateErrorRequest,
    Field(discriminator="task_type"),
]


class Submitted(BaseModel):
    """The reply to a submission."""

    task_id: UUID
    status: Literal["queued"] = "queued"


class TaskError(BaseModel):
    """Why a task failed."""

    type: str
    message: str


class Task(BaseModel):
    """A task as the product shows it."""

    task_id: UUID
    task_type: Literal["compute_sum", "generate_report", "simulate_error"]
    status: Literal["queued", "processing", "completed", "failed", "cancelled"]
    parameters: ComputeSum | GenerateReport | SimulateError
    result: float | int | str | None = None
    error: TaskError | None = None
    progress: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


_DONE = datetime(2026, 1, 1, 12, 0, 5, 123456, tzinfo=UTC)
FIXED_TASK = Task(
    task_id=UUID("3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"),
    task_type="compute_sum",
    status="completed",
    parameters=ComputeSum(numbers=[1, 2, 3]),
    result=6,
    progress=1.0,
    created_at=datetime(2026, 1, 1, 12, 0, 0, 2345, tzinfo=UTC),
    started_at=datetime(2026, 1, 1, 12, 0, 0, 3456, tzinfo=UTC),
    finished_at=_DONE,
)


def create_app() -> FastAPI:
    """The two endpoints, written the way FastAPI's tutorial writes them."""
    app = FastAPI(title="Baseline")

    @app.post("/tasks", status_code=202)
    async def submit_task(body: TaskRequest) -> Submitted:  # noqa: ARG001 - validated, then dropped
        return Submitted(task_id=uuid4())

    @app.get("/tasks/{task_id}")
    async def get_task(task_id: UUID, wait: bool = False) -> Task:  # noqa: ARG001, FBT001, FBT002
        # A long-poll as simple as one can write it: sleep on an event nobody sets (no
        # store, no disconnect watch); the benchmark measures what holding it costs.
        if wait:
            await asyncio.Event().wait()
        return FIXED_TASK

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the baseline with the options ``python -m taskmanager`` gives uvicorn."""
    parser = argparse.ArgumentParser(prog="bench.baseline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    uvicorn.run(
        "bench.baseline:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        timeout_graceful_shutdown=10,
        proxy_headers=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
