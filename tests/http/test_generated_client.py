"""A Python client generated from /openapi.json by openapi-python-client drives the real app."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from types import ModuleType

import pytest
from support import FakeClock

from taskmanager.config import Settings
from taskmanager.http.app import create_app

PACKAGE = "task_manager_client"
OPERATION_IDS = {
    ("post", "/tasks"): "submit_task",
    ("get", "/tasks"): "list_tasks",
    ("get", "/tasks/{task_id}"): "get_task",
    ("delete", "/tasks/{task_id}"): "cancel_task",
    ("get", "/events"): "stream_events",
    ("get", "/stats"): "get_stats",
    ("get", "/metrics"): "get_metrics",
    ("get", "/healthz"): "get_health",
    ("put", "/schedules/{name}"): "put_schedule",
    ("get", "/schedules"): "list_schedules",
    ("get", "/schedules/{name}"): "get_schedule",
    ("delete", "/schedules/{name}"): "delete_schedule",
    ("post", "/queue/pause"): "pause_queue",
    ("post", "/queue/resume"): "resume_queue",
}


@pytest.fixture
async def generated(client, tmp_path, monkeypatch) -> AsyncIterator[Callable[[str], ModuleType]]:
    """Generate a client package from the app's /openapi.json; give its modules by name."""
    document = tmp_path / "openapi.json"
    document.write_bytes((await client.get("/openapi.json")).content)
    # The generator's default post-hooks run ruff on the output; that tidies, it checks nothing.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none"]
    command += ["--path", str(document), "--output-path", str(tmp_path / PACKAGE)]
    command += ["--config", str(config), "--fail-on-warning"]
    # In a thread: the app under test shares this event loop.
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
    )
    output = (done.stdout + done.stderr).replace(str(tmp_path), "<tmp>")
    assert done.returncode == 0, output
    assert "warning" not in output.lower(), output
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    for name in [name for name in sys.modules if name.partition(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_every_operation_is_named_as_a_person_would_call_it():
    document = create_app(Settings.model_validate({})).openapi()
    names = {
        (method, path): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert names == OPERATION_IDS


async def test_the_generated_client_submits_reads_lists_and_cancels_typed_tasks(
    client, generated, clock: FakeClock
):
    models = generated("models")
    submit_task, get_task, list_tasks, cancel_task = (
        generated(f"api.tasks.{name}")
        for name in ("submit_task", "get_task", "list_tasks", "cancel_task")
    )
    api = generated("client").Client(base_url=str(client.base_url)).set_async_httpx_client(client)

    body = models.ComputeSumRequest(
        task_type="compute_sum", parameters=models.ComputeSum(numbers=[1, 2, 3.5])
    )
    submitted = await submit_task.asyncio(client=api, body=body)
    assert isinstance(submitted, models.Task)
    assert submitted.status is models.TaskStatus.QUEUED

    await clock.advance(5)
    done = await get_task.asyncio(submitted.task_id, client=api)
    assert isinstance(done, models.Task)
    assert done.task_id == submitted.task_id
    assert done.task_type is models.TaskType.COMPUTE_SUM
    assert done.status is models.TaskStatus.COMPLETED
    # A task's parameters are an object whose fields its task type's request schema names.
    assert done.parameters.to_dict() == {"numbers": [1, 2, 3.5]}
    assert done.result == 6.5
    assert done.error is None
    assert done.finished_at is not None

    report = models.GenerateReportRequest(
        task_type="generate_report", parameters=models.GenerateReport(title="weekly")
    )
    running = await submit_task.asyncio(client=api, body=report)
    assert isinstance(running, models.Task)
    cancelled = await cancel_task.asyncio(running.task_id, client=api)
    assert isinstance(cancelled, models.Task)
    assert cancelled.status is models.TaskStatus.CANCELLED
    assert cancelled.result is None

    listed = await list_tasks.asyncio(client=api)
    assert isinstance(listed, list)
    assert all(isinstance(task, models.Task) for task in listed)
    assert [(task.task_id, task.status) for task in listed] == [
        (submitted.task_id, models.TaskStatus.COMPLETED),
        (running.task_id, models.TaskStatus.CANCELLED),
    ]
    only_cancelled = await list_tasks.asyncio(client=api, status=models.TaskStatus.CANCELLED)
    assert [task.task_id for task in only_cancelled] == [running.task_id]

    too_late = await cancel_task.asyncio(submitted.task_id, client=api)
    assert isinstance(too_late, models.ConflictBody)
    assert too_late.task.status is models.TaskStatus.COMPLETED

    missing = await get_task.asyncio(uuid.uuid4(), client=api)
    assert isinstance(missing, models.ErrorBody)
