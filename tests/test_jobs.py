"""The public API for task types: the decorator, the loader, and their one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from support import start_refused

from taskmanager.config import ConfigurationError, load_settings
from taskmanager.jobs import Context, TaskTypeError, error_type_of, load_task_types, task_type

TESTS = Path(__file__).parent


class Point(BaseModel):
    x: int = 0
    y: int = 0


def test_the_decorator_describes_the_function_and_returns_it_unchanged():
    def move(params: Point, ctx: Context) -> int:
        """Move the point.

        More words.
        """
        return params.x

    decorated = task_type("move", retry_on=(ConnectionError,))(move)
    assert decorated is move
    spec = move.__task_type__  # type: ignore[attr-defined]
    assert spec.name == "move"
    assert spec.parameters is Point
    assert spec.executor == "thread"  # a plain def
    assert spec.retry_on == (ConnectionError,)
    assert spec.summary == "Move the point.\n\nMore words."
    assert dict(spec.example) == {"x": 0, "y": 0}  # every field has a default


def test_an_async_def_runs_on_the_async_executor_by_default():
    @task_type("later")
    async def later(params: Point, ctx: Context) -> None:
        """Later."""

    assert later.__task_type__.executor == "async"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("executor", "is_async", "message"),
    [
        ("async", False, "needs an async def"),
        ("thread", True, "needs a plain def"),
        ("process", True, "needs a plain def"),
        ("gpu", False, "unknown executor 'gpu'"),
    ],
)
def test_an_executor_that_cannot_run_the_function_is_refused(executor, is_async, message):
    async def coroutine(params: Point, ctx: Context) -> None: ...

    def plain(params: Point, ctx: Context) -> None: ...

    with pytest.raises(TaskTypeError, match=message):
        task_type("t", executor=executor)(coroutine if is_async else plain)


@pytest.mark.parametrize("name", ["", "Has Spaces", "9lives", "x" * 65])
def test_a_name_clients_cannot_send_plainly_is_refused(name):
    with pytest.raises(TaskTypeError, match="task type name"):
        task_type(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (KeyError, "key_error"),
        (ValueError, "value_error"),
        (ConnectionError, "connection_error"),
        (type("HTTPStatusError", (Exception,), {}), "http_status_error"),
        (type("Timeout", (Exception,), {}), "timeout"),
    ],
)
def test_an_exception_becomes_its_class_name_in_snake_case(name, expected):
    assert error_type_of(name("x")) == expected


def test_the_loader_keeps_module_and_definition_order():
    types = load_task_types(["taskmanager.demo", "jobmodules.usertypes"])
    assert list(types)[:5] == ["compute_sum", "generate_report", "simulate_error", "gated", "flaky"]
    assert types.modules == ("taskmanager.demo", "jobmodules.usertypes")


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("jobmodules.no_such_module", "module 'jobmodules.no_such_module' cannot be imported"),
        ("jobmodules.broken", "RuntimeError: the database is not configured"),
        ("jobmodules.not_a_model", "the first parameter must be annotated with a pydantic model"),
        ("jobmodules.bad_executor", "unknown executor 'gpu'"),
        ("jobmodules.same_name", "'compute_sum' is already declared in module 'taskmanager.demo'"),
        ("jobmodules", "declares no @task_type function"),
    ],
)
def test_a_bad_module_is_refused_in_one_line_naming_it(monkeypatch, module, message):
    monkeypatch.setenv("TASKMANAGER_TASKS", f"taskmanager.demo, {module}")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    line = str(raised.value)
    assert "\n" not in line
    assert line.startswith("invalid TASKMANAGER_TASKS=")
    assert f"module {module!r}" in line or f"module '{module}'" in line
    assert message in line


def test_only_the_named_modules_types_exist(monkeypatch):
    monkeypatch.setenv("TASKMANAGER_TASKS", "jobmodules.usertypes")
    assert "compute_sum" not in load_settings().tasks
    monkeypatch.delenv("TASKMANAGER_TASKS")
    assert list(load_settings().tasks) == ["compute_sum", "generate_report", "simulate_error"]


def test_a_bad_module_stops_the_server_with_one_line_naming_it():
    line = start_refused(
        TASKMANAGER_TASKS="taskmanager.demo,jobmodules.not_a_model", PYTHONPATH=str(TESTS)
    )
    assert "TASKMANAGER_TASKS" in line
    assert "jobmodules.not_a_model" in line


def test_importing_the_public_api_loads_nothing_of_the_web_stack():
    code = (
        "import sys, taskmanager.jobs, taskmanager.demo; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'httpx', "
        "'taskmanager.http', 'taskmanager.config') if m in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
