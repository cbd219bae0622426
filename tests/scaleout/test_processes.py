"""Real replica processes over a real redis-server: killed, stopped, and Redis restarted."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis as redis_sync
from conftest import REDIS_PORTS

from bench.server import Server, redis_ping, redis_server, taskmanager_server

PORTS = range(8600, 8700)
LEASE = 2.0
# A ten-section report takes 30 s of simulated work; scaled, about 1.5 s.
TIME_SCALE = 0.05
# A replica about to be killed or stopped runs it unscaled: it is still running when the
# other replica, started only then (seconds on a loaded machine), is ready to take over.
UNSCALED = 1.0
SLOW_REPORT = {"task_type": "generate_report", "parameters": {"title": "long", "sections": 10}}


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll another process until ``check`` returns something true, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)  # another process: there is nothing else to wait on
    return result


@pytest.fixture
def redis(tmp_path) -> Iterator[Server]:
    server = redis_server(tmp_path, ports=REDIS_PORTS)
    with server:
        yield server


@pytest.fixture
def replica(tmp_path, redis) -> Iterator[Callable[..., Server]]:
    """Start replicas of one service (a key prefix of this test's own) on the test's Redis."""
    prefix = f"p{uuid.uuid4().hex[:10]}"
    started: list[Server] = []

    def start(name: str, **settings: object) -> Server:
        values = {
            "redis_url": f"redis://127.0.0.1:{redis.port}/0",
            "redis_prefix": prefix,
            "lease": LEASE,
            "time_scale": TIME_SCALE,
            "workers": 1,
            "rate_limit": "1000/second",
        } | settings
        server = taskmanager_server(tmp_path, ports=PORTS, settings=values, name=name)
        started.append(server)
        server.start()
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def status_of(server: Server, task_id: str) -> dict[str, Any]:
    response = httpx.get(server.url(f"/tasks/{task_id}"), timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def submit_to(server: Server, body: dict[str, Any]) -> str:
    response = httpx.post(server.url("/tasks"), json=body, timeout=5)
    assert response.status_code == 202, response.text
    return response.json()["task_id"]


@pytest.mark.serial
@pytest.mark.parametrize(("retries", "outcome"), [(1, "completed"), (0, "failed")])
def test_a_replica_killed_mid_task_has_it_retried_or_failed_within_the_lease(
    replica, retries, outcome
):
    doomed = replica("doomed", time_scale=UNSCALED)
    task_id = submit_to(doomed, SLOW_REPORT | {"max_retries": retries})
    wait_for(lambda: status_of(doomed, task_id)["status"] == "processing", 5, "started")
    survivor = replica("survivor")
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    killed = time.monotonic()
    moved = wait_for(
        lambda: (task := status_of(survivor, task_id))["status"] != "processing" and task,
        LEASE + 2,
        "the lost attempt noticed",
    )
    assert time.monotonic() - killed <= LEASE + 0.5
    assert moved["error"]["type"] == "worker_lost"
    final = wait_for(
        lambda: (
            (task := status_of(survivor, task_id))["status"] in {"completed", "failed"} and task
        ),
        10,
        "the task ended",
    )
    assert final["status"] == outcome
    assert final["attempts"] == 1 + retries


@pytest.mark.serial
def test_a_replica_stopped_with_sigterm_hands_its_running_task_to_another(replica):
    leaving = replica("leaving", shutdown_grace=0.3, time_scale=UNSCALED)
    task_id = submit_to(leaving, SLOW_REPORT)
    wait_for(lambda: status_of(leaving, task_id)["status"] == "processing", 5, "started")
    staying = replica("staying")
    leaving.process.send_signal(signal.SIGTERM)
    assert leaving.process.wait(5) in {0, -signal.SIGTERM, 128 + signal.SIGTERM}
    final = wait_for(
        lambda: (task := status_of(staying, task_id))["status"] == "completed" and task,
        10,
        "completed by the other replica",
    )
    assert final["attempts"] == 1  # handed over, not cancelled, no retry used
    log = leaving.output()
    assert "back in the queue for another replica" in log
    assert "Traceback" not in log


@pytest.mark.serial
def test_a_replica_answers_503_while_redis_is_down_and_recovers_when_it_is_back(
    replica, redis, tmp_path
):
    alone = replica("alone")
    redis.stop()
    started = time.monotonic()
    refused = httpx.post(alone.url("/tasks"), json=SLOW_REPORT, timeout=5)
    assert refused.status_code == 503
    assert refused.headers["retry-after"]
    assert time.monotonic() - started < 2
    assert httpx.get(alone.url("/healthz"), timeout=5).status_code == 503
    again = Server("redis-again", redis.argv, port=redis.port, log_dir=tmp_path, probe=redis_ping)
    with again:
        back = time.monotonic()
        wait_for(
            lambda: httpx.get(alone.url("/healthz"), timeout=5).status_code == 200,
            5,
            "healthy again",
        )
        assert time.monotonic() - back < 5
        assert httpx.post(alone.url("/tasks"), json=SLOW_REPORT, timeout=5).status_code == 202
    assert "Traceback" not in alone.output()


def test_processes_serve_one_port_as_replicas_and_stop_together(replica):
    served = replica("pair", processes=2, workers=2)
    # Two replica processes, two workers each, once both have started.
    wait_for(
        lambda: httpx.get(served.url("/stats"), timeout=5).json()["workers"]["total"] == 4,
        10,
        "both replica processes counted",
    )
    ids = [submit_to(served, SLOW_REPORT) for _ in range(4)]
    wait_for(
        lambda: all(status_of(served, task_id)["status"] == "completed" for task_id in ids),
        10,
        "all four completed",
    )
    served.process.send_signal(signal.SIGTERM)  # the parent alone: it tells its replicas
    # Every replica stopped cleanly: the parent ends by SIGTERM, as a single process does.
    assert served.process.wait(10) == -signal.SIGTERM
    log = served.output()
    assert log.count("Application shutdown complete") == 2
    assert "Traceback" not in log


def test_a_replica_process_that_dies_is_started_again(replica):
    served = replica("pair", processes=2, workers=1)
    wait_for(lambda: served.output().count("Application startup complete") == 2, 10, "both up")
    children = [
        int(line.rpartition("[")[2].rstrip("]"))
        for line in served.output().splitlines()
        if "Started server process" in line
    ]
    os.kill(children[0], signal.SIGKILL)
    wait_for(
        lambda: served.output().count("Started server process") == 3,
        10,
        "another replica process started",
    )
    assert "starting another" in served.output()
    wait_for(
        lambda: httpx.get(served.url("/stats"), timeout=5).json()["workers"]["total"] == 2,
        LEASE * 3,
        "the dead one forgotten, the new one counted",
    )


def test_an_outcome_reported_while_redis_hangs_lands_when_it_answers_again(replica, redis):
    # A lease long enough that the hang does not make the replica stop its own jobs.
    alone = replica("alone", lease=20)
    task_id = submit_to(alone, SLOW_REPORT)
    wait_for(lambda: status_of(alone, task_id)["status"] == "processing", 5, "started")
    # Redis stops answering anyone (but keeps its data) for longer than the job takes.
    admin = redis_sync.Redis(port=redis.port)
    try:
        admin.execute_command("CLIENT", "PAUSE", int(4 * TIME_SCALE * 30 * 1000), "ALL")
    finally:
        admin.close()

    def completed() -> dict[str, Any] | None:
        answer = httpx.get(alone.url(f"/tasks/{task_id}"), timeout=5)  # 503 while paused
        task: dict[str, Any] = answer.json()
        return task if answer.status_code == 200 and task["status"] == "completed" else None

    final = wait_for(completed, 30, "the outcome written")
    assert final["attempts"] == 1  # written late, not run again
    assert "runs nowhere" not in alone.output()
    assert "Traceback" not in alone.output()


@pytest.mark.serial
def test_a_replica_that_cannot_renew_its_lease_stops_its_jobs_before_others_take_them(
    replica, redis
):
    """No task runs on two replicas: the silent one stops before its lease runs out."""
    alone = replica("alone")
    task_id = submit_to(alone, SLOW_REPORT)
    wait_for(lambda: status_of(alone, task_id)["status"] == "processing", 5, "started")
    admin = redis_sync.Redis(port=redis.port)
    try:
        admin.execute_command("CLIENT", "PAUSE", int(LEASE * 1000), "ALL")
    finally:
        admin.close()
    wait_for(lambda: "could not renew its lease" in alone.output(), LEASE, "its jobs stopped")

    def finished() -> dict[str, Any] | None:
        answer = httpx.get(alone.url(f"/tasks/{task_id}"), timeout=5)  # 503 while paused
        task: dict[str, Any] = answer.json()
        return task if answer.status_code == 200 and task["status"] == "completed" else None

    final = wait_for(finished, 20, "run again once Redis answered")
    assert final["attempts"] == 1  # its stopped attempt was undone, not failed
