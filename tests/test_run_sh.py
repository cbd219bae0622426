"""``run.sh``: what it hands the server from the shell it was started in.

``run.sh`` changes into the checkout before it starts anything, so a path given relative to
where the user typed the command must be made absolute first. The checkout here is a copy
of ``run.sh`` beside an environment that looks installed, whose ``python`` prints what it
was given instead of serving.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.server import ROOT

PATH_SETTINGS = ("TASKMANAGER_API_KEYS_FILE", "TASKMANAGER_WEB_DIR")
FAKE_PYTHON = """#!/bin/sh
for name in TASKMANAGER_API_KEYS_FILE TASKMANAGER_WEB_DIR; do
    printenv "$name" || echo "$name unset"
done
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "run.sh", root / "run.sh")
    (root / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n")
    # The stamp ensure_env compares with pyproject.toml: installed, nothing to do.
    (root / ".venv" / ".installed").write_text((root / "pyproject.toml").read_text() + "\n")
    python = root / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def start_from(checkout: Path, cwd: Path, **settings: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in PATH_SETTINGS} | settings
    done = subprocess.run(  # noqa: S603 - our own script
        [str(checkout / "run.sh"), "start"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_relative_keys_file_is_where_the_command_was_typed(checkout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    given = start_from(
        checkout, elsewhere, TASKMANAGER_API_KEYS_FILE="keys.txt", TASKMANAGER_WEB_DIR="../web"
    )
    assert given == [str(elsewhere / "keys.txt"), str(elsewhere / "../web")]


def test_absolute_and_unset_paths_pass_unchanged(checkout, tmp_path):
    given = start_from(checkout, tmp_path, TASKMANAGER_API_KEYS_FILE="/etc/tm/keys")
    assert given == ["/etc/tm/keys", "TASKMANAGER_WEB_DIR unset"]
    # Empty means "no keys": it stays empty.
    assert start_from(checkout, tmp_path, TASKMANAGER_API_KEYS_FILE="")[0] == ""
