"""Examples shown in the OpenAPI documentation (and tried from Swagger UI).

The submission examples come from the task types the service runs; the task examples
show the demo types, built from the Task model, so they always have today's fields.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

from pydantic import TypeAdapter

from taskmanager.actors.model import ParametersObject, Task, TaskError, TaskStatus
from taskmanager.actors.schedules import Schedule
from taskmanager.demo import ComputeSum, GenerateReport, SimulateError
from taskmanager.http.schemas import TASK
from taskmanager.jobs import TaskTypes

_ID: Final = UUID("3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65")
_CREATED: Final = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def _example(task: Task) -> dict[str, Any]:
    example: dict[str, Any] = TASK.dump_python(task, mode="json")
    return example


def submissions(types: TaskTypes) -> dict[str, Any]:
    """One example per task type that has one, and one with job options."""
    found: dict[str, Any] = {
        spec.name: {
            "summary": spec.summary.splitlines()[0].rstrip("."),
            "value": {"task_type": spec.name, "parameters": dict(spec.example)},
        }
        for spec in types.values()
        if spec.example is not None
    }
    first = next(iter(found.values()), None)
    if first is not None and "with job options" not in found:
        found["with job options"] = {
            "summary": "With job options: urgent, in a minute, retried after a timeout",
            "value": first["value"] | {"priority": 9, "delay": 60, "timeout": 20, "max_retries": 2},
        }
    if first is not None and "after another task" not in found:
        found["after another task"] = {
            "summary": "After another task: waits until it completed (put a real task id)",
            "value": first["value"] | {"depends_on": [str(_ID)]},
        }
    return found


_QUEUED: Final = Task(
    task_id=_ID,
    task_type="compute_sum",
    status=TaskStatus.QUEUED,
    parameters=ParametersObject.of(ComputeSum(numbers=(1, 2, 3.5))),
    created_at=_CREATED,
    run_at=_CREATED,
)
_STARTED: Final = _CREATED + timedelta(milliseconds=2)
_FINISHED: Final = _STARTED + timedelta(seconds=5)
_COMPLETED: Final = replace(
    _QUEUED,
    status=TaskStatus.COMPLETED,
    started_at=_STARTED,
    finished_at=_FINISHED,
    progress=1.0,
    result=6.5,
    attempts=1,
)
_FAILED: Final = replace(
    _QUEUED,
    task_type="simulate_error",
    status=TaskStatus.FAILED,
    parameters=ParametersObject.of(SimulateError(error="timeout")),
    started_at=_STARTED,
    finished_at=_FINISHED,
    error=TaskError("timeout", "simulated failure: the work took too long"),
    attempts=1,
)
_RETRYING: Final = replace(
    _FAILED,
    status=TaskStatus.QUEUED,
    finished_at=None,
    run_at=_FINISHED + timedelta(seconds=2),
    max_retries=2,
)
_CANCELLED: Final = replace(
    _QUEUED, status=TaskStatus.CANCELLED, finished_at=_CREATED + timedelta(seconds=1)
)
_WAITING: Final = replace(
    _QUEUED,
    task_id=UUID("8d1c2b3a-4e5f-4a6b-9c7d-0e1f2a3b4c5d"),
    depends_on=(_ID,),
    waiting_for=(_ID,),
)
_DEPENDENCY_FAILED: Final = replace(
    _WAITING,
    status=TaskStatus.CANCELLED,
    finished_at=_FINISHED,
    error=TaskError("dependency_failed", f"dependency {_ID} failed"),
)

SUBMITTED: Final[dict[str, Any]] = {
    "queued": {"summary": "Queued, as GET /tasks/{task_id} returns it", "value": _example(_QUEUED)}
}
TASKS: Final[dict[str, Any]] = {
    "queued": {"summary": "Waiting for a worker", "value": _example(_QUEUED)},
    "completed": {"summary": "Done, with its result", "value": _example(_COMPLETED)},
    "failed": {"summary": "Failed, with why", "value": _example(_FAILED)},
    "retrying": {"summary": "Waiting for its second attempt", "value": _example(_RETRYING)},
    "waiting": {"summary": "Waiting for a task it depends on", "value": _example(_WAITING)},
    "dependency failed": {
        "summary": "Cancelled: a task it depended on failed",
        "value": _example(_DEPENDENCY_FAILED),
    },
}
LIST: Final[dict[str, Any]] = {
    "two": {"summary": "Two tasks", "value": [_example(_COMPLETED), _example(_QUEUED)]}
}
CANCELLED: Final[dict[str, Any]] = {
    "cancelled": {"summary": "Cancelled", "value": _example(_CANCELLED)}
}

SCHEDULE_PUT: Final[dict[str, Any]] = {
    "every": {
        "summary": "Every ten minutes",
        "value": {"task_type": "compute_sum", "parameters": {"numbers": [1, 2, 3]}, "every": 600},
    },
    "cron": {
        "summary": "At 06:30 on weekdays, Paris time, with job options",
        "value": {
            "task_type": "generate_report",
            "parameters": {"title": "Morning figures", "sections": 3},
            "cron": "30 6 * * 1-5",
            "timezone": "Europe/Paris",
            "priority": 5,
            "max_retries": 2,
        },
    },
}

_SCHEDULE: Final = Schedule(
    name="morning-report",
    task_type="generate_report",
    parameters=ParametersObject.of(GenerateReport(title="Morning figures", sections=3)),
    created_at=_CREATED,
    next_run_at=datetime(2026, 11, 30, 5, 30, tzinfo=UTC),
    cron="30 6 * * 1-5",
    timezone="Europe/Paris",
    priority=5,
    max_retries=2,
    last_task_id=_ID,
    last_run_at=datetime(2026, 11, 27, 5, 30, tzinfo=UTC),
)
SCHEDULE: Final[dict[str, Any]] = {
    "cron": {
        "summary": "A cron schedule",
        "value": TypeAdapter(Schedule).dump_python(_SCHEDULE, mode="json"),
    }
}
SCHEDULE_LIST: Final[dict[str, Any]] = {
    "one": {"summary": "One schedule", "value": [SCHEDULE["cron"]["value"]]}
}
