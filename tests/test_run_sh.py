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

SHOWN = ("TASKMANAGER_API_KEYS_FILE", "TASKMANAGER_WEB_DIR", "TASKMANAGER_RATE_LIMIT")
FAKE_PYTHON = f"""#!/bin/sh
for name in {" ".join(SHOWN)}; do
    printenv "$name" || echo "$name unset"
done
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "run.sh", root / "run.sh")
    (root / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n")
    # The stamp ensure_env reads: the extras installed (dev covers them all), then the
    # pyproject.toml they were installed from. Installed: nothing to do.
    (root / ".venv" / ".installed").write_text(
        "dev\n" + (root / "pyproject.toml").read_text() + "\n"
    )
    python = root / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    # A monitor whose packages are installed and whose build does nothing.
    (root / "webapp" / "node_modules").mkdir(parents=True)
    (root / "webapp" / "package.json").write_text('{"scripts": {"build": "true"}}\n')
    (root / "webapp" / "package-lock.json").write_text("{}\n")
    shutil.copy(
        root / "webapp" / "package-lock.json", root / "webapp/node_modules/.package-lock.json"
    )
    return root


def start_from(checkout: Path, cwd: Path, command: str = "start", **settings: str) -> list[str]:
    """What the server is given by ``run.sh command`` typed in ``cwd``, one line a setting."""
    env = {k: v for k, v in os.environ.items() if k not in SHOWN} | settings
    done = subprocess.run(  # noqa: S603 - our own script
        [str(checkout / "run.sh"), command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    given = done.stdout.splitlines()
    assert len(given) == len(SHOWN), done.stdout  # the server alone ran, once
    return given


def test_a_relative_keys_file_is_where_the_command_was_typed(checkout, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    given = start_from(
        checkout, elsewhere, TASKMANAGER_API_KEYS_FILE="keys.txt", TASKMANAGER_WEB_DIR="../web"
    )
    assert given[:2] == [str(elsewhere / "keys.txt"), str(elsewhere / "../web")]


def test_absolute_and_unset_paths_pass_unchanged(checkout, tmp_path):
    given = start_from(checkout, tmp_path, TASKMANAGER_API_KEYS_FILE="/etc/tm/keys")
    assert given[:2] == ["/etc/tm/keys", "TASKMANAGER_WEB_DIR unset"]
    # Empty means "no keys": it stays empty.
    assert start_from(checkout, tmp_path, TASKMANAGER_API_KEYS_FILE="")[0] == ""


def test_dev_raises_the_rate_limit_so_the_readme_walk_fits_and_start_keeps_the_default(
    checkout, tmp_path
):
    assert start_from(checkout, tmp_path, "dev")[2] == "600/minute"
    assert start_from(checkout, tmp_path, "dev", TASKMANAGER_RATE_LIMIT="10/minute")[2] == (
        "10/minute"
    )
    assert start_from(checkout, tmp_path, "start")[2] == "TASKMANAGER_RATE_LIMIT unset"
