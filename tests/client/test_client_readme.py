"""README.md's "Use it from Python" examples run as written against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import ROOT, Server, clean_environment, taskmanager_server

PORTS = range(8700, 8800)
README_URL = "http://localhost:8000"


def python_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use it from Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    settings = {"time_scale": 0.01, "rate_limit": "1000/second", "shutdown_grace": 0}
    log_dir = tmp_path_factory.mktemp("readme-server")
    with taskmanager_server(log_dir, ports=PORTS, settings=settings) as running:
        yield running


def test_the_readme_has_a_sync_an_async_a_dependencies_and_a_schedules_example():
    examples = python_examples()
    assert len(examples) == 4
    assert all(README_URL in example for example in examples)


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, ["completed 6.5", "completed 100%", "already completed"]),
        (1, ["[0, 2, 4]"]),
        (2, ["queued True", "completed ()"]),
        (3, ["['morning-report', 'tick']", "True False"]),
    ],
    ids=["Client", "AsyncClient", "dependencies", "schedules"],
)
def test_a_readme_example_runs_and_prints_what_its_comments_say(
    server, tmp_path: Path, index, expected
):
    example = python_examples()[index].replace(README_URL, server.url())
    script = tmp_path / "example.py"
    script.write_text(example)
    done = subprocess.run(  # noqa: S603 - this interpreter, the README's code
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=clean_environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for line in expected:
        assert line in done.stdout, done.stdout
