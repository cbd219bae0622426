"""Servers in child processes, the one way the benchmark, the load test and the tests run them.

A ``Server`` is one process on a loopback port that nothing else listens on, in its own
session, with its output in ``<log_dir>/<name>-<port>.log``. It is ready once its probe
holds (``GET /healthz`` answers 200, unless told otherwise) and stops with SIGTERM to its
process group, then SIGKILL once a grace period has passed. ``with server:`` does all of
that (``all_running`` for several at once); ``taskmanager_server`` and ``python_server``
build the usual ones.

Each caller keeps to its own port range, so that runs side by side rarely meet: the
container tests 8200-8299, the benchmark 8300-8399, the load test and the shutdown test
8400-8499, Redis for the tests 8500-8599, the scale-out tests' servers 8600-8699, the
client's tests 8700-8799.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, Self

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds a server gets to answer its probe
STOP_GRACE = 15.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 4000  # characters of a failed server's log quoted in the error

type Probe = Callable[[int], bool]
"""Whether whatever listens on a loopback port answers as the ready server would."""


class ServerError(RuntimeError):
    """A server exited or stayed silent while starting, or no port was free for it."""


_handed_out: set[int] = set()


def free_port(ports: range) -> int:
    """A loopback port from ``ports`` that nothing listens on and this process never gave out.

    The search starts at a random port, so that two runs on one machine rarely collide;
    remembering the ports given out keeps two servers of one run apart while neither has
    bound its port yet.
    """
    start = random.randrange(len(ports))  # noqa: S311 - not for security
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    if len(ports) == 1:
        raise ServerError(f"port {ports.start} is in use")
    raise ServerError(f"no free port in {ports.start}-{ports.stop - 1}")


def http_ok(path: str = "/healthz") -> Probe:
    """A probe that holds when ``GET path`` answers 200."""

    def probe(port: int) -> bool:
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", path)
            return connection.getresponse().status == http.client.OK
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    return probe


class Server:
    """One server process on a loopback port, its output in a log file.

    ``with server:`` starts it, waits until it is ready and always stops it; ``start``,
    ``wait_ready`` and ``stop`` do the same by hand.
    """

    def __init__(  # noqa: PLR0913 - each is one plain fact about the process
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        probe: Probe | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.log = log_dir / f"{name}-{port}.log"
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.probe = probe or http_ok()
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"<Server {self.name} on port {self.port}>"

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The child process; for signals and waits of a test's own."""
        if self._process is None:
            raise RuntimeError(f"{self.name} server: start() it first")
        return self._process

    @property
    def pid(self) -> int:
        """The server's process id (also its process group's)."""
        return self.process.pid

    def url(self, path: str = "") -> str:
        """An absolute URL on this server."""
        return f"http://{HOST}:{self.port}{path}"

    def output(self) -> str:
        """Everything the server has written so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start the process in its own session, so that stopping it reaches its children."""
        if self._process is not None:
            raise RuntimeError(f"{self.name} server: started twice")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - argv comes from our own callers
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Return once the probe holds; raise ``ServerError`` if the process exits first."""
        deadline = time.monotonic() + timeout
        while True:
            # Exit first: a probe answered by whoever took our port must not count.
            if self.process.poll() is not None:
                self._fail(f"exited with status {self.process.returncode}")
            if self.probe(self.port):
                return
            if time.monotonic() >= deadline:
                self._fail(f"did not answer within {timeout:g} s")
            time.sleep(0.05)  # a process we do not control: there is no event to wait on

    def _fail(self, why: str) -> NoReturn:
        tail = self.output()[-LOG_TAIL:]
        message = f"{self.name} server on port {self.port} {why}; its log ends with:\n{tail}"
        raise ServerError(message)

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; the exit status, None if never started.

        The signals go to the whole process group, and whatever the server leaves in it
        (nginx's workers, when their master was killed) is killed afterwards.
        """
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._process.wait()
        self._signal_group(signal.SIGKILL)
        return self._process.returncode

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def all_running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """``with`` several servers at once: all start together, then each is waited for.

    Their start-ups overlap, so they are ready in about the time the slowest takes rather
    than in the sum of all; they stop in reverse order, as nested ``with`` blocks would.
    """
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.callback(server.stop)
            server.start()
        for server in servers:
            server.wait_ready()
        yield servers


def clean_environment() -> dict[str, str]:
    """This process's environment without any TASKMANAGER_* setting that could leak in."""
    return {key: value for key, value in os.environ.items() if not key.startswith("TASKMANAGER_")}


def python_server(  # noqa: PLR0913 - past the third all keywords, and only ports required
    name: str,
    module: str,
    log_dir: Path,
    *,
    ports: range,
    env: Mapping[str, str] | None = None,
    probe: Probe | None = None,
    python: Path | None = None,
) -> Server:
    """``python -m <module> --host 127.0.0.1 --port <a free one>`` from the repository root.

    This interpreter runs it (or ``python``), with this process's environment minus
    TASKMANAGER_*, plus ``env``, and unbuffered output so that the log is complete at any
    moment.
    """
    port = free_port(ports)
    argv = [str(python or sys.executable), "-m", module, "--host", HOST, "--port", str(port)]
    full_env = clean_environment() | dict(env or {}) | {"PYTHONUNBUFFERED": "1"}
    return Server(name, argv, port=port, log_dir=log_dir, env=full_env, cwd=ROOT, probe=probe)


def taskmanager_server(
    log_dir: Path,
    *,
    ports: range,
    settings: Mapping[str, object] | None = None,
    name: str = "taskmanager",
) -> Server:
    """Task Manager as ``./run.sh start`` runs it; each setting becomes ``TASKMANAGER_<KEY>``.

    ``{"time_scale": 0}`` sets ``TASKMANAGER_TIME_SCALE=0``; settings from the caller's own
    environment never reach the server.
    """
    env = {f"TASKMANAGER_{key.upper()}": str(value) for key, value in (settings or {}).items()}
    return python_server(name, "taskmanager", log_dir, ports=ports, env=env)


def redis_ping(port: int) -> bool:
    """Whether a Redis server answers PING on a loopback port."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_server(
    log_dir: Path, *, ports: range, persist: Path | None = None, name: str = "redis"
) -> Server:
    """Debian's ``redis-server`` on a free loopback port, for the tests and the benchmark.

    Without ``persist`` it keeps nothing on disk (``--save ""``, no AOF); with it, an
    append-only file in that directory, as the compose file runs Redis.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port(ports)
    argv = [binary, "--port", str(port), "--bind", HOST, "--save", ""]
    if persist is None:
        argv += ["--appendonly", "no"]
    else:
        argv += ["--appendonly", "yes", "--dir", str(persist)]
    return Server(name, argv, port=port, log_dir=log_dir, probe=redis_ping)
