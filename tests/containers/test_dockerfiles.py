"""The Dockerfiles pass hadolint and follow the practices the issue asks for."""

from __future__ import annotations

import re
import subprocess

import pytest
from container_support import (
    DOCKERFILE,
    REPO,
    WEB_DOCKERFILE,
    parse_dockerfile,
    parse_env,
    require_tool,
    stage_images,
)

IGNORE_PRAGMA = re.compile(r"#\s*hadolint\s+ignore=([A-Z0-9, ]+)(.*)")


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, WEB_DOCKERFILE], ids=["api", "web"])
def test_hadolint_finds_nothing_in_the_dockerfile(dockerfile):
    hadolint = require_tool("hadolint")
    result = subprocess.run(  # noqa: S603
        [hadolint, "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, WEB_DOCKERFILE], ids=["api", "web"])
def test_every_ignored_hadolint_rule_says_why(dockerfile):
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        match = IGNORE_PRAGMA.search(line)
        if match is None:
            continue
        before = lines[number - 1].strip() if number else ""
        explained = before.startswith("#") and not IGNORE_PRAGMA.search(before)
        assert explained, f"{dockerfile.name}:{number + 1}: put the reason on the line above"


def test_the_api_image_builds_the_monitor_in_a_node_stage():
    instructions = parse_dockerfile(DOCKERFILE)
    images = stage_images(instructions)
    assert images["monitor"].startswith("node:")
    runs = [
        i.flags_and_rest()[1] for i in instructions if i.stage == "monitor" and i.keyword == "RUN"
    ]
    assert any(run.startswith("npm ci") for run in runs)
    assert "npm run build" in runs


def test_the_api_image_installs_dependencies_before_copying_the_code():
    build = [i for i in parse_dockerfile(DOCKERFILE) if i.stage == "build"]
    copies = [i for i in build if i.keyword == "COPY"]
    assert copies[0].arguments.split()[0] == "pyproject.toml", "the first COPY is pyproject alone"
    dependencies = next(i for i in build if i.keyword == "RUN" and "pip" in i.arguments)
    code = next(i for i in copies if "taskmanager/" in i.arguments)
    assert dependencies.line < code.line, "the dependency layer must come before the code"
    assert (
        "--no-deps" in next(i for i in build if i.line > code.line and i.keyword == "RUN").arguments
    )


def test_the_api_image_runs_unprivileged_with_health_check_and_exec_form_command():
    instructions = parse_dockerfile(DOCKERFILE)
    assert list(stage_images(instructions).values())[-1] == "python:3.12-slim"
    runtime = [i for i in instructions if i.stage == "runtime"]
    keywords = {i.keyword: i for i in runtime}
    user = keywords["USER"].arguments.split(":")[0]
    assert user not in {"0", "root"}
    assert keywords["EXPOSE"].arguments == "8000"
    env = {
        key: value
        for i in runtime
        if i.keyword == "ENV"
        for key, value in parse_env(i.arguments).items()
    }
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["TASKMANAGER_WEB_DIR"] == "/app/webapp/dist"
    assert keywords["WORKDIR"].arguments == "/app"
    monitor = next(i for i in runtime if i.keyword == "COPY" and "--from=monitor" in i.arguments)
    assert monitor.arguments.split()[-1] == "webapp/dist", "copied to /app/webapp/dist"
    health = keywords["HEALTHCHECK"].arguments
    assert "urllib" in health
    assert "/healthz" in health
    assert "curl" not in health
    command = keywords["CMD"].exec_form()
    assert command[:3] == ["python", "-m", "taskmanager"]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # noqa: S104 - in a container
    assert command[command.index("--port") + 1] == "8000"
    assert "ENTRYPOINT" not in keywords, "a shell ENTRYPOINT would swallow SIGTERM"


def test_the_web_image_serves_the_built_monitor_with_the_proxy_config_as_non_root():
    instructions = parse_dockerfile(WEB_DOCKERFILE)
    images = list(stage_images(instructions).values())
    assert images[0].startswith("node:")
    assert images[-1].startswith("nginxinc/nginx-unprivileged:"), "nginx without root"
    copies = [i.arguments for i in instructions if i.keyword == "COPY"]
    assert "webapp/nginx.conf /etc/nginx/conf.d/default.conf" in copies
    assert any(
        c.startswith("--from=monitor") and c.endswith("/usr/share/nginx/html") for c in copies
    )
    assert any(i.keyword == "EXPOSE" and i.arguments == "8080" for i in instructions)


def test_the_build_context_leaves_out_local_state():
    ignored = set((REPO / ".dockerignore").read_text().split())
    for pattern in (".git", "**/.venv", "**/node_modules", "webapp/dist", "**/__pycache__"):
        assert pattern in ignored
    for needed in ("pyproject.toml", "README.md", "taskmanager", "webapp"):
        assert needed not in ignored


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, WEB_DOCKERFILE], ids=["api", "web"])
def test_every_file_the_dockerfile_copies_is_in_the_repository(dockerfile):
    for instruction in parse_dockerfile(dockerfile):
        flags, rest = instruction.flags_and_rest()
        if instruction.keyword != "COPY" or "from" in flags:
            continue
        *sources, _ = rest.split()
        for source in sources:
            assert (REPO / source).exists(), f"{dockerfile.name}:{instruction.line}: {source}"
