"""webapp/nginx.conf in front of two real API replicas over one real Redis, as compose runs it.

Debian's nginx, two ``python -m taskmanager`` processes with ``TASKMANAGER_REDIS_URL`` and
one redis-server, all on loopback. Where a request went is read from the logs: each
replica's log holds uvicorn's access log (written before the response leaves the
replica), and nginx's access log names the replicas it tried for each request. Requests
carry a ``probe`` query parameter of their own, which the API ignores, to find their lines.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from container_support import (
    NGINX_CONF,
    PORTS,
    api_server,
    fake_monitor,
    nginx_server,
    render_nginx,
)
from support import SUM

from bench.server import Server, free_port, redis_server

SETTINGS = {
    "time_scale": "0.02",
    "workers": "2",
    "trusted_proxies": "127.0.0.1",
    "rate_limit": "1000/second",
    "shutdown_grace": "1",
}
LOG_DEADLINE = 5.0  # seconds nginx gets to write a finished request's access-log line


@dataclass
class Service:
    """Two replicas over one Redis, and nginx balancing across them."""

    replicas: tuple[Server, Server]
    nginx: Server

    def client(self, timeout: float = 5) -> httpx.Client:
        """A client of the service, through nginx."""
        return httpx.Client(base_url=self.nginx.url(), timeout=timeout)

    def served_by(self, marker: str) -> list[Server]:
        """The replicas whose access log has a request carrying ``marker``."""
        return [replica for replica in self.replicas if marker in replica.output()]

    def nginx_line(self, marker: str) -> str:
        """nginx's access-log line for the request carrying ``marker``, once written."""
        log = self.nginx.log.parent / "access.log"
        deadline = time.monotonic() + LOG_DEADLINE
        while True:
            text = log.read_text() if log.exists() else ""
            found = [line for line in text.splitlines() if marker in line]
            if found:
                (line,) = found
                return line
            assert time.monotonic() < deadline, f"no line for {marker} in nginx's access log"
            # nginx logs after the response has left: another process, nothing to wait on.
            time.sleep(0.02)


def probe() -> str:
    """A marker no other request carries."""
    return uuid.uuid4().hex


@contextmanager
def replicated_service(work: Path) -> Iterator[Service]:
    """Start Redis, two replicas over it (side by side) and nginx; stop them all afterwards."""
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server(work, ports=PORTS))
        settings = SETTINGS | {"redis_url": f"redis://127.0.0.1:{redis.port}/0"}
        first, second = (api_server(work, name, **settings) for name in ("api-1", "api-2"))
        for replica in (first, second):
            replica.start()
            stack.callback(replica.stop)
        for replica in (first, second):
            replica.wait_ready()
        nginx_port = free_port(PORTS)
        main = render_nginx(
            work / "nginx",
            api_ports=[first.port, second.port],
            listen_port=nginx_port,
            web_root=fake_monitor(work / "monitor"),
        )
        nginx = stack.enter_context(nginx_server(main, nginx_port))
        yield Service((first, second), nginx)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    with replicated_service(tmp_path_factory.mktemp("replicas")) as running:
        yield running


def other(service: Service, replica: Server) -> Server:
    (rest,) = (each for each in service.replicas if each is not replica)
    return rest


def test_the_upstream_retries_only_what_is_safe_to_repeat():
    conf = NGINX_CONF.read_text()
    (retries,) = re.findall(r"^\s*proxy_next_upstream\s+([^;]*);", conf, re.MULTILINE)
    assert set(retries.split()) == {"error", "timeout"}, "never non_idempotent, never http_503"
    assert re.search(r"^\s*keepalive\s+\d+;", conf, re.MULTILINE)
    (keepalive,) = re.findall(r"^\s*keepalive_timeout\s+(\d+)s;", conf, re.MULTILINE)
    assert int(keepalive) < 5, "below uvicorn's keep-alive timeout"


def test_requests_through_nginx_are_shared_between_both_replicas(service):
    markers = [probe() for _ in range(4)]
    with service.client() as client:
        for marker in markers:
            assert client.get("/healthz", params={"probe": marker}).status_code == 200
    served = [service.served_by(marker) for marker in markers]
    assert all(len(replicas) == 1 for replicas in served), "each request reached one replica"
    assert {replicas[0].name for replicas in served} == {"api-1", "api-2"}


def test_the_service_counts_the_workers_of_both_replicas(service):
    with service.client() as client:
        stats = client.get("/stats").json()
    assert stats["workers"]["total"] == 2 * int(SETTINGS["workers"])


def test_a_task_submitted_through_nginx_is_readable_on_each_replica_directly(service):
    with service.client() as client:
        submitted = client.post("/tasks", json=SUM)
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    for replica in service.replicas:
        answer = httpx.get(replica.url(f"/tasks/{task_id}"), timeout=5)
        assert answer.status_code == 200, (replica, answer.text)
        assert answer.json()["task_id"] == task_id


def test_a_long_poll_through_nginx_sees_the_task_finish_wherever_it_ran(service):
    with service.client(timeout=15) as client:
        task_id = client.post("/tasks", json=SUM).json()["task_id"]
        status = "queued"
        for _ in range(5):  # each answer is a change: queued, processing, completed
            status = client.get(f"/tasks/{task_id}", params={"wait": "true"}).json()["status"]
            if status == "completed":
                break
    assert status == "completed"


@pytest.mark.serial
def test_an_event_stream_through_nginx_carries_a_change_made_on_the_other_replica(service):
    marker = probe()
    with (
        service.client(timeout=2) as listener,
        listener.stream("GET", "/events", params={"probe": marker}) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        # The API writes `retry:` as soon as it has subscribed: past that, nothing is missed.
        assert next(line for line in lines if line).startswith("retry:")
        (streaming,) = service.served_by(marker)
        elsewhere = other(service, streaming)
        submitted = httpx.post(elsewhere.url("/tasks"), json=SUM, timeout=5)
        task_id = submitted.json()["task_id"]
        sent = time.monotonic()
        line = next(line for line in lines if task_id in line)
        assert line.startswith("data:")
        assert time.monotonic() - sent < 1.0


def test_with_one_replica_stopped_nginx_sends_everything_to_the_other(tmp_path):
    with replicated_service(tmp_path) as service, service.client() as client:
        marker = probe()
        assert client.get("/healthz", params={"probe": marker}).status_code == 200
        # Round robin between two: the replica that did not answer that one is next.
        (answered,) = service.served_by(marker)
        stopped = other(service, answered)
        stopped.stop()
        # So this POST goes to the stopped replica first; the connection is refused, the
        # request never reached it, and nginx safely hands it to the other one.
        marker = probe()
        submitted = client.post("/tasks", json=SUM, params={"probe": marker})
        assert submitted.status_code == 202, submitted.text
        tried = service.nginx_line(marker).split("upstream=")[1]
        assert tried == f"127.0.0.1:{stopped.port}, 127.0.0.1:{answered.port}"
        task_id = submitted.json()["task_id"]
        reads = [client.get(f"/tasks/{task_id}").status_code for _ in range(4)]
        assert reads == [200] * 4
        assert client.get("/healthz").status_code == 200
        assert_stream_opens(client)
    error_log = (service.nginx.log.parent / "error.log").read_text()
    assert "Connection refused" in error_log
    assert f"127.0.0.1:{stopped.port}" in error_log


def assert_stream_opens(client: httpx.Client) -> None:
    with client.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        assert next(line for line in stream.iter_lines() if line).startswith("retry:")
