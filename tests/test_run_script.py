"""``./run.sh``'s environment: the extras a command needs, installed once, again only on change.

The script runs in a copy of the repository's entry point, with a stand-in for the
environment's Python that records what it was asked to do instead of doing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/0"
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/../../calls.log"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """run.sh and pyproject.toml, with a virtual environment whose Python only logs."""
    shutil.copy(ROOT / "run.sh", tmp_path / "run.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def run(checkout: Path, *args: str, redis_url: str | None = None) -> list[str]:
    """Run ``./run.sh args``; what it asked the environment's Python to do."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKMANAGER_")}
    if redis_url is not None:
        env["TASKMANAGER_REDIS_URL"] = redis_url
    log = checkout / "calls.log"
    log.unlink(missing_ok=True)
    done = subprocess.run(  # noqa: S603 - our own script
        [checkout / "run.sh", *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return log.read_text().splitlines() if log.exists() else []


def installs(calls: list[str]) -> list[str]:
    return [call.rpartition(" ")[2] for call in calls if "pip install --quiet -e" in call]


def test_start_with_a_redis_url_installs_the_redis_extra_once(checkout):
    assert installs(run(checkout, "start", redis_url=REDIS_URL)) == [".[redis]"]
    calls = run(checkout, "start", redis_url=REDIS_URL)
    assert installs(calls) == []
    assert calls[-1].startswith("-m taskmanager --host")
    assert installs(run(checkout, "start")) == []  # what is installed already covers it


def test_start_without_redis_installs_no_extra_and_adds_it_when_asked(checkout):
    assert installs(run(checkout, "start")) == ["."]
    assert installs(run(checkout, "start")) == []
    assert installs(run(checkout, "start", redis_url=REDIS_URL)) == [".[redis]"]


def test_the_dev_environment_covers_redis_and_a_changed_project_reinstalls_every_extra(
    checkout,
):
    assert installs(run(checkout, "init", "--dev")) == [".[dev]"]
    assert installs(run(checkout, "start", redis_url=REDIS_URL)) == []
    with (checkout / "pyproject.toml").open("a") as project:
        project.write("\n# changed\n")
    assert installs(run(checkout, "start")) == [".[dev]"]
