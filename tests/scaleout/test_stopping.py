"""Real server processes stopped at awkward moments: mid-restart, parent killed, Redis away.

Each test leaves no process behind: the service, every replica process it started and
anything they started end on their own, and the test checks that they did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import REDIS_PORTS

from bench.server import Server, redis_ping, redis_server, taskmanager_server

# Signals to real processes and exits timed against the grace period: alone, not under the
# load of a parallel run (./run.sh test runs tests marked serial on a quiet machine).
pytestmark = pytest.mark.serial

PORTS = range(8600, 8700)
GRACE = 0.5
#: Exit statuses of a clean stop: 0, or the signal re-raised once the server shut down.
CLEAN = {0, -signal.SIGTERM, -signal.SIGINT}


def wait_for[T](check: Callable[[], T], timeout: float, what: str) -> T:
    """Poll another process until ``check`` returns something true, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)  # another process: there is nothing else to wait on
    return result


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command; None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped has ended too)."""
    fields = _stat(pid)
    return fields is None or fields[0] in {"Z", "X"}


def left_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` still running: the service's, the replicas', theirs."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [
        pid for pid in pids if (fields := _stat(pid)) and int(fields[2]) == pgid and not gone(pid)
    ]


def replica_pids(server: Server) -> list[int]:
    """The replica processes' ids, as each logged it on starting."""
    return [
        int(line.rpartition("[")[2].rstrip("]"))
        for line in server.output().splitlines()
        if "Started server process" in line
    ]


def exit_status(server: Server, timeout: float) -> int | None:
    """The service's exit status, or None if it still runs after ``timeout`` seconds."""
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Server]:
    with redis_server(tmp_path, ports=REDIS_PORTS) as server:
        yield server


@pytest.fixture
def service(tmp_path: Path, redis: Server) -> Iterator[Callable[..., Server]]:
    """Start (not wait for) a service of this test's own on the test's Redis port."""
    prefix = f"p{uuid.uuid4().hex[:10]}"
    started: list[Server] = []

    def start(**settings: object) -> Server:
        values = {
            "redis_url": f"redis://127.0.0.1:{redis.port}/0",
            "redis_prefix": prefix,
            "shutdown_grace": GRACE,
            "workers": 1,
        } | settings
        server = taskmanager_server(tmp_path, ports=PORTS, settings=values, name="service")
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


def test_sigterm_during_a_restart_pause_starts_no_replica_and_ends_the_service(service):
    # A pause far longer than the test: the signal surely arrives while it runs.
    served = service(processes=2, restart_pause=60)
    wait_for(lambda: served.output().count("Application startup complete") == 2, 20, "both up")
    first, second = replica_pids(served)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: "starting another" in served.output(), 5, "the death noticed")
    served.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    status = exit_status(served, GRACE + 4)
    log = served.output()
    assert status in CLEAN, f"status {status}:\n{log}"
    assert time.monotonic() - signalled < GRACE + 4
    assert len(replica_pids(served)) == 2, log  # none started once stopping had begun
    assert gone(second)
    # Nothing else either: multiprocessing's resource tracker ends with the service.
    wait_for(lambda: left_in_group(served.pid) == [], 2, "all processes ended")
    assert "Traceback" not in log


def test_replicas_drain_and_end_when_their_parent_is_killed(service):
    served = service(processes=2)
    wait_for(lambda: served.output().count("Application startup complete") == 2, 20, "both up")
    replicas = replica_pids(served)
    served.process.send_signal(signal.SIGKILL)
    served.process.wait()
    wait_for(lambda: all(gone(pid) for pid in replicas), GRACE + 4, "the replicas ended")
    # Nothing else either: multiprocessing's resource tracker ends with the last of them.
    wait_for(lambda: left_in_group(served.pid) == [], 2, "all processes ended")
    log = served.output()
    assert log.count("Application shutdown complete") == 2, log
    assert "Traceback" not in log


def test_sigint_to_the_process_group_ends_every_process_quietly(service):
    served = service(processes=2)
    wait_for(lambda: served.output().count("Application startup complete") == 2, 20, "both up")
    replicas = replica_pids(served)
    os.killpg(served.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    status = exit_status(served, GRACE + 4)
    log = served.output()
    assert status in CLEAN, f"status {status}:\n{log}"
    assert all(gone(pid) for pid in replicas)
    wait_for(lambda: left_in_group(served.pid) == [], 2, "all processes ended")
    assert log.count("Application shutdown complete") == 2, log
    assert "Traceback" not in log
    assert "KeyboardInterrupt" not in log


def redis_down(redis: Server) -> Callable[[], Server]:
    """Stop ``redis``; the function returned starts it again on the same port."""
    redis.stop()

    def start_again() -> Server:
        again = Server("redis-again", redis.argv, port=redis.port, log_dir=redis.log.parent)
        again.probe = redis_ping
        again.start()
        again.wait_ready()
        return again

    return start_again


def test_a_replica_waits_for_redis_at_start_up_and_serves_once_it_is_up(service, redis):
    start_redis = redis_down(redis)
    served = service()
    wait_for(lambda: "waiting for Redis" in served.output(), 20, "the wait logged")
    assert served.output().count("waiting for Redis") == 1
    assert "Application startup complete" not in served.output()
    again = start_redis()
    try:
        served.wait_ready(10)
        answer = httpx.post(
            served.url("/tasks"),
            json={"task_type": "compute_sum", "parameters": {"numbers": [1, 2]}},
            timeout=5,
        )
        assert answer.status_code == 202, answer.text
        assert "Redis reached" in served.output()
        assert "Traceback" not in served.output()
    finally:
        served.stop()
        again.stop()


def test_sigterm_while_waiting_for_redis_stops_at_once(service, redis):
    redis_down(redis)
    served = service()
    wait_for(lambda: "waiting for Redis" in served.output(), 20, "the wait logged")
    served.process.send_signal(signal.SIGTERM)
    status = exit_status(served, 1.5)
    log = served.output()
    assert status in CLEAN, f"status {status}:\n{log}"
    assert "Traceback" not in log
