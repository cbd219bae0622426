"""The API image's install and start-up, replayed outside Docker from the Dockerfile itself.

The `build` stage's COPY and RUN instructions run in order in a temporary root (every
absolute path the Dockerfile names is moved under it), the runtime stage's ENV and WORKDIR
apply, and the CMD starts the server with only its host and port changed, over a real
redis-server as docker-compose.yml runs it. So a change to the Dockerfile's commands is
tested as written, with nothing copied out by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from container_support import (
    DOCKERFILE,
    PORTS,
    REPO,
    Instruction,
    fake_monitor,
    parse_dockerfile,
    parse_env,
)
from support import SUM

from bench.server import Server, clean_environment, free_port, redis_server

VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
# What `.dockerignore` keeps out of the context, as far as the copied sources go.
NOT_IN_CONTEXT = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "node_modules")
# Runtime-stage commands that only make sense in an image (they change the system's users).
IMAGE_ONLY = ("groupadd ", "useradd ")


@dataclass
class Replay:
    """Runs Dockerfile instructions on this machine, under ``root`` instead of ``/``."""

    root: Path
    env: dict[str, str]
    workdir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir = self.root

    def path(self, text: str) -> Path:
        return self.root / text.lstrip("/") if text.startswith("/") else self.workdir / text

    def expand(self, text: str) -> str:
        return VARIABLE.sub(lambda m: self.env.get(m[1] or m[2], ""), text)

    def apply(self, instruction: Instruction) -> None:
        flags, rest = instruction.flags_and_rest()
        match instruction.keyword:
            case "ENV":
                for key, value in parse_env(rest).items():
                    # Absolute paths move under the root; $VARIABLES expand as Docker does.
                    parts = [
                        str(self.path(p)) if p.startswith("/") else p for p in value.split(":")
                    ]
                    self.env[key] = self.expand(":".join(parts))
            case "WORKDIR":
                self.workdir = self.path(rest)
                self.workdir.mkdir(parents=True, exist_ok=True)
            case "COPY" if "from" not in flags:
                *sources, target = rest.split()
                self.copy(sources, target)
            case "RUN":
                # The build cache mounts (--mount=type=cache,...) map to pip's usual cache here.
                result = subprocess.run(  # noqa: S603
                    ["/bin/sh", "-c", rest],
                    cwd=self.workdir,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=240,
                )
                assert result.returncode == 0, f"RUN {rest}\n{result.stdout}\n{result.stderr}"
            case _:
                pass  # FROM, EXPOSE, USER, HEALTHCHECK, CMD: read by the test itself

    def copy(self, sources: list[str], target: str) -> None:
        destination = self.path(target)
        for source in sources:
            origin = REPO / source
            assert origin.exists(), f"COPY {source}: not in the build context"
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=NOT_IN_CONTEXT, dirs_exist_ok=True)
            else:
                into = destination / origin.name if target.endswith("/") else destination
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)


def python_on_path(directory: Path) -> Path:
    """`python` as the image has it: this test run's Python 3.12+."""
    directory.mkdir()
    (directory / "python").symlink_to(sys.executable)
    return directory


@pytest.mark.timeout(240)  # a fresh install takes 10-60 s with pip's cache, longer without
def test_the_dockerfile_commands_install_the_package_and_its_command_serves_health(tmp_path):
    instructions = parse_dockerfile(DOCKERFILE)
    env = clean_environment()
    env["PATH"] = f"{python_on_path(tmp_path / 'bin')}:{env['PATH']}"
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    replay = Replay(tmp_path / "root", env)
    for instruction in instructions:
        if instruction.stage == "build":
            replay.apply(instruction)

    runtime = [i for i in instructions if i.stage == "runtime"]
    for instruction in runtime:
        flags, rest = instruction.flags_and_rest()
        match instruction.keyword, flags.get("from"):
            case "RUN", _:
                assert rest.startswith(IMAGE_ONLY), f"install in the build stage, not {rest!r}"
            case "COPY", "build":
                source, target = rest.split()
                assert source == target, "the venv keeps its path, so its scripts still work"
            case "COPY", "monitor":
                *_, target = rest.split()
                fake_monitor(replay.path(target))  # the Node stage's output, stood in for
            case _:
                replay.apply(instruction)

    command = next(i for i in runtime if i.keyword == "CMD").exec_form()
    port = free_port(PORTS)
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    executable = shutil.which(command[0], path=replay.env["PATH"])
    assert executable is not None
    assert Path(executable).is_relative_to(replay.root), "CMD runs the image's venv python"
    with redis_server(tmp_path, ports=PORTS) as redis:
        # The compose file's replicas keep their state in Redis: the image must speak to it.
        env = replay.env | {"TASKMANAGER_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
        server = Server(
            "server",
            [executable, *command[1:]],
            port=port,
            log_dir=tmp_path,
            env=env,
            cwd=replay.workdir,
        )
        status = serve_and_stop(server)
    # uvicorn re-raises SIGTERM once it has drained, so the status is the signal's: Docker
    # reports that as 143, the conventional status after SIGTERM; 0 is fine as well.
    assert status in {0, 143, -signal.SIGTERM}, server.output()
    assert "Application shutdown complete" in server.output()
    assert "Traceback" not in server.output()


def serve_and_stop(server: Server) -> int:
    """Start the image's command, check what it serves, stop it as Docker does: its status."""
    with server:
        # /healthz answers 200 only while the replica reaches Redis.
        health = httpx.get(server.url("/healthz"), timeout=5)
        assert health.json() == {"status": "ok", "detail": ""}
        submitted = httpx.post(server.url("/tasks"), json=SUM, timeout=5)
        assert submitted.status_code == 202, submitted.text
        monitor = httpx.get(server.url("/"), timeout=5)
        assert "Task Manager monitor" in monitor.text, "TASKMANAGER_WEB_DIR is served at /"
        os.kill(server.pid, signal.SIGTERM)  # what `docker stop` sends to PID 1
        return server.process.wait(timeout=15)
