"""What each part imports: the client never loads the server's web stack, and ``serve``
runs without the client's libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import ROOT, Server, clean_environment, free_port

PORTS = range(8700, 8800)
SERVER_ONLY = ("fastapi", "starlette", "uvicorn", "pydantic_settings", "taskmanager.config")
# Makes `import httpx` and `import rich` fail, as where the client extra is not installed.
WITHOUT_CLIENT_EXTRA = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"httpx", "rich"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
"""


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_environment(),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "module", ["taskmanager.client", "taskmanager.cli", "taskmanager.cli.commands"]
)
def test_the_client_and_its_commands_do_not_import_the_server(module):
    done = python(
        f"import sys, {module}\n"
        f"print(sorted(m for m in {SERVER_ONLY!r} if m in sys.modules))\n"
        "print('httpx' in sys.modules)"
    )
    assert done.returncode == 0, done.stderr
    loaded, httpx_loaded = done.stdout.splitlines()
    assert loaded == "[]"
    # The check itself works: the client does load its own libraries.
    assert httpx_loaded == ("False" if module == "taskmanager.cli" else "True")


def test_the_actor_system_is_still_importable_from_the_package():
    done = python("from taskmanager.actors import ActorSystem, Kill; print(ActorSystem.__name__)")
    assert done.stdout.strip() == "ActorSystem", done.stderr


def test_serve_runs_without_httpx_and_rich(tmp_path: Path):
    port = free_port(PORTS)
    code = (
        WITHOUT_CLIENT_EXTRA
        + "from taskmanager.cli import main\n"
        + f"main(['serve', '--host', '127.0.0.1', '--port', '{port}'])\n"
    )
    env = clean_environment() | {"PYTHONUNBUFFERED": "1", "TASKMANAGER_SHUTDOWN_GRACE": "0"}
    server = Server(
        "serve-without-client", [sys.executable, "-c", code], port=port, log_dir=tmp_path,
        env=env, cwd=ROOT,
    )  # fmt: skip
    with server:
        pass  # ready: /healthz answered 200
    assert "Traceback" not in server.output()


def test_a_client_command_without_the_extra_says_what_installs_it_here():
    done = python(WITHOUT_CLIENT_EXTRA + "from taskmanager.cli import main\nmain(['ls'])\n")
    assert done.returncode == 1
    # This environment's own pip (another one on PATH would install elsewhere), and this
    # checkout: the package is not published under its name.
    assert f"{sys.executable} -m pip install -e '{ROOT}[client]'" in done.stderr
    assert "Traceback" not in done.stderr
