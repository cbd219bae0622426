"""`taskmanager worker`: real worker processes beside an API-only replica, over a real Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from test_processes import (
    LEASE,
    PORTS,
    SLOW_REPORT,
    TIME_SCALE,
    redis,
    status_of,
    submit_to,
    wait_for,
)

from bench.server import (
    ROOT,
    Server,
    clean_environment,
    free_port,
    redis_ping,
    taskmanager_server,
)

__all__ = ["redis"]  # the fixture, shared with the replica tests

QUICK_SUM = {"task_type": "compute_sum", "parameters": {"numbers": [1, 2, 3]}}


def fresh(health_file: Path, max_age: float) -> bool:
    """Whether the health check the compose file runs says the worker is alive."""
    check = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [
            sys.executable,
            "-m",
            "taskmanager.healthfile",
            str(health_file),
            "--max-age",
            str(max_age),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return check.returncode == 0


@dataclass
class Service:
    """Processes of one service (a key prefix of the test's own) on the test's Redis."""

    redis_port: int
    log_dir: Path
    prefix: str = field(default_factory=lambda: f"w{uuid.uuid4().hex[:10]}")
    started: list[Server] = field(default_factory=list)

    def settings(self, **overrides: object) -> dict[str, object]:
        return {
            "redis_url": f"redis://127.0.0.1:{self.redis_port}/0",
            "redis_prefix": self.prefix,
            "lease": LEASE,
            "time_scale": TIME_SCALE,
            "rate_limit": "1000/second",
        } | overrides

    def api(self, name: str = "api", **overrides: object) -> Server:
        """A replica serving the API and running no task (TASKMANAGER_WORKERS=0)."""
        server = taskmanager_server(
            self.log_dir, ports=PORTS, settings=self.settings(workers=0, **overrides), name=name
        )
        self.started.append(server)
        server.start()
        server.wait_ready()
        return server

    def worker(self, name: str = "worker", **overrides: object) -> tuple[Server, Path]:
        """A `taskmanager worker` process; ready once its health file says it is alive."""
        health_file = self.log_dir / f"{name}.alive"
        env = clean_environment() | {"PYTHONUNBUFFERED": "1"}
        env |= {f"TASKMANAGER_{k.upper()}": str(v) for k, v in self.settings(**overrides).items()}
        argv = [sys.executable, "-m", "taskmanager", "worker", "--health-file", str(health_file)]
        server = Server(
            name,
            argv,
            port=free_port(PORTS),  # names its log; a worker listens on no port
            log_dir=self.log_dir,
            env=env,
            cwd=ROOT,
            probe=lambda _: health_file.exists(),
        )
        self.started.append(server)
        server.start()
        server.wait_ready()
        return server, health_file


@pytest.fixture
def service(tmp_path, redis) -> Iterator[Service]:
    service = Service(redis.port, tmp_path)
    yield service
    for server in service.started:
        server.stop()


def workers_of(server: Server) -> Callable[[], dict[str, int]]:
    return lambda: httpx.get(server.url("/stats"), timeout=5).json()["workers"]


def test_an_api_only_replica_and_a_worker_process_run_tasks_and_count_its_workers(service):
    api = service.api()
    waiting = submit_to(api, QUICK_SUM)  # before any worker process exists
    worker, _ = service.worker(workers=3)
    wait_for(lambda: workers_of(api)()["total"] == 3, 5, "the worker process's workers counted")
    assert wait_for(lambda: status_of(api, waiting)["status"] == "completed", 10, "the early one")
    task_id = submit_to(api, QUICK_SUM)
    final = wait_for(
        lambda: (task := status_of(api, task_id))["status"] == "completed" and task,
        10,
        "completed by the worker process",
    )
    assert final["result"] == 6
    assert "Traceback" not in worker.output()


@pytest.mark.serial
def test_sigterm_to_a_worker_process_hands_its_running_task_back(service):
    api = service.api()
    leaving, _ = service.worker("leaving", workers=1, shutdown_grace=0.3)
    task_id = submit_to(api, SLOW_REPORT)
    wait_for(lambda: status_of(api, task_id)["status"] == "processing", 5, "started")
    leaving.process.send_signal(signal.SIGTERM)
    assert leaving.process.wait(5) == 0
    assert status_of(api, task_id)["status"] == "queued"
    log = leaving.output()
    assert "back in the queue for another replica" in log
    assert "Traceback" not in log
    service.worker("staying", workers=1)
    final = wait_for(
        lambda: (task := status_of(api, task_id))["status"] == "completed" and task,
        10,
        "completed by the other worker process",
    )
    assert final["attempts"] == 1  # handed back, not failed, no retry used


@pytest.mark.serial
def test_the_health_file_is_fresh_while_the_worker_lives_and_goes_stale_when_it_dies(service):
    worker, health_file = service.worker()
    # The worker touches it every quarter of a lease (0.5 s here).
    assert fresh(health_file, max_age=LEASE)
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait()
    wait_for(lambda: not fresh(health_file, max_age=LEASE / 2), LEASE + 2, "stale")


@pytest.mark.serial
def test_the_health_file_goes_stale_while_the_worker_cannot_reach_redis(service, redis, tmp_path):
    worker, health_file = service.worker()
    redis.stop()
    wait_for(lambda: not fresh(health_file, max_age=LEASE / 2), LEASE + 3, "stale without Redis")
    assert worker.process.poll() is None, "the process lives on: its pid alone says nothing"
    again = Server("redis-again", redis.argv, port=redis.port, log_dir=tmp_path, probe=redis_ping)
    with again:
        wait_for(lambda: fresh(health_file, max_age=LEASE / 2), 10, "fresh again")
    assert "Traceback" not in worker.output()


def test_a_worker_process_without_redis_is_refused_in_one_line():
    refused = subprocess.run(
        [sys.executable, "-m", "taskmanager", "worker"],
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "TASKMANAGER_REDIS_URL" in lines[0]
