"""Examples shown in the OpenAPI documentation (and tried from Swagger UI)."""

from __future__ import annotations

from typing import Any, Final

_ID: Final = "3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65"

SUBMIT: Final[dict[str, Any]] = {
    "compute_sum": {
        "summary": "Add numbers",
        "value": {"task_type": "compute_sum", "parameters": {"numbers": [1, 2, 3.5]}},
    },
    "generate_report": {
        "summary": "Write a report",
        "value": {
            "task_type": "generate_report",
            "parameters": {"title": "Quarterly figures", "sections": 2},
        },
    },
    "simulate_error": {
        "summary": "Fail on purpose",
        "value": {"task_type": "simulate_error", "parameters": {"error": "timeout"}},
    },
}

_QUEUED: Final = {
    "task_id": _ID,
    "task_type": "compute_sum",
    "status": "queued",
    "parameters": {"numbers": [1, 2, 3.5]},
    "created_at": "2026-11-28T06:00:00.000000Z",
    "started_at": None,
    "finished_at": None,
    "progress": 0.0,
    "result": None,
    "error": None,
}
_COMPLETED: Final = _QUEUED | {
    "status": "completed",
    "started_at": "2026-11-28T06:00:00.002000Z",
    "finished_at": "2026-11-28T06:00:05.003000Z",
    "progress": 1.0,
    "result": 6.5,
}
_FAILED: Final = _QUEUED | {
    "task_type": "simulate_error",
    "status": "failed",
    "parameters": {"error": "timeout"},
    "started_at": "2026-11-28T06:00:00.002000Z",
    "finished_at": "2026-11-28T06:00:05.003000Z",
    "error": {"type": "timeout", "message": "simulated failure: the work took too long"},
}
_CANCELLED: Final = _QUEUED | {"status": "cancelled", "finished_at": "2026-11-28T06:00:01.000000Z"}

TASKS: Final[dict[str, Any]] = {
    "queued": {"summary": "Waiting for a worker", "value": _QUEUED},
    "completed": {"summary": "Done, with its result", "value": _COMPLETED},
    "failed": {"summary": "Failed, with why", "value": _FAILED},
}
LIST: Final[dict[str, Any]] = {"two": {"summary": "Two tasks", "value": [_COMPLETED, _QUEUED]}}
CANCELLED: Final[dict[str, Any]] = {"cancelled": {"summary": "Cancelled", "value": _CANCELLED}}
