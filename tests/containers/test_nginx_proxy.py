"""webapp/nginx.conf passes `nginx -t`, and Debian's nginx running it proxies the real API.

Each test sends from its own loopback address (127.0.0.x), so the small rate limit of the
shared API gives every test a fresh budget.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from container_support import (
    NGINX_CONF,
    PORTS,
    api_server,
    fake_monitor,
    nginx_argv,
    nginx_server,
    render_nginx,
)

from bench.server import Server, free_port
from taskmanager.config import Settings

LONG_TASK = {"task_type": "generate_report", "parameters": {"title": "long", "sections": 10}}
SHORT_TASK = {"task_type": "compute_sum", "parameters": {"numbers": [1, 2, 3]}}


@dataclass
class Proxy:
    """nginx on loopback with webapp/nginx.conf, in front of a real API."""

    url: str
    api: Server
    nginx: Server
    web_root: Path

    def client(self, source: str, timeout: float = 5) -> httpx.Client:
        """A client whose connections come from ``source``, a 127.0.0.x address."""
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(transport=transport, base_url=self.url, timeout=timeout)


@contextmanager
def proxied_api(work: Path, **settings: str) -> Iterator[Proxy]:
    """Start the API with ``settings`` and nginx in front of it; stop both afterwards."""
    with api_server(work, **settings) as api:
        web_root = fake_monitor(work / "monitor")
        nginx_port = free_port(PORTS)
        main = render_nginx(
            work / "nginx", api_ports=[api.port], listen_port=nginx_port, web_root=web_root
        )
        with nginx_server(main, nginx_port) as nginx:
            yield Proxy(nginx.url(), api, nginx, web_root)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[Proxy]:
    settings = {
        "trusted_proxies": "127.0.0.1",
        "time_scale": "0.02",
        "rate_limit": "3/minute",
        "shutdown_grace": "1",
    }
    with proxied_api(tmp_path_factory.mktemp("proxy"), **settings) as running_proxy:
        yield running_proxy


def test_nginx_accepts_the_configuration(tmp_path):
    main = render_nginx(tmp_path, api_ports=[8000, 8001], listen_port=8080, web_root=tmp_path)
    result = subprocess.run(  # noqa: S603
        nginx_argv(main, "-t"), capture_output=True, text=True, check=False, timeout=30
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "test is successful" in output
    assert "[warn]" not in output, output


def test_the_monitor_files_are_served_and_unknown_paths_fall_back_to_index_html(proxy):
    with proxy.client("127.0.0.10") as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.text == (proxy.web_root / "index.html").read_text()
        assert index.headers["content-type"].startswith("text/html")
        assert index.headers["cache-control"] == "no-cache"
        deep_link = client.get("/some/monitor/view")
        assert deep_link.status_code == 200
        assert deep_link.text == index.text
        bundle = client.get("/assets/app-1a2b3c.js")
        assert bundle.status_code == 200
        assert "immutable" in bundle.headers["cache-control"]
        assert client.get("/assets/missing.js").status_code == 404


def test_the_api_paths_answer_through_the_proxy(proxy):
    with proxy.client("127.0.0.11") as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/openapi.json").json()["info"]["title"] == "Task Manager"
        assert client.get("/docs").status_code == 200
        assert client.get("/stats").status_code == 200
        assert client.get("/metrics").status_code == 200
        submitted = client.post("/tasks", json=SHORT_TASK)
        assert submitted.status_code == 202
        task_id = submitted.json()["task_id"]
        assert submitted.headers["location"] == f"/tasks/{task_id}"
        assert client.get(f"/tasks/{task_id}").json()["task_id"] == task_id
        assert client.get("/tasks", params={"limit": 1}).status_code == 200


@pytest.mark.serial
def test_an_event_arrives_through_the_proxy_as_soon_as_it_happens(proxy):
    with (
        proxy.client("127.0.0.12", timeout=2) as listener,
        proxy.client("127.0.0.13") as submitter,
        listener.stream("GET", "/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        # The API writes `retry:` as soon as it has subscribed: past that, nothing is missed.
        assert next(line for line in lines if line).startswith("retry:")
        sent = time.monotonic()
        task_id = submitter.post("/tasks", json=SHORT_TASK).json()["task_id"]
        line = next(line for line in lines if task_id in line)
        assert time.monotonic() - sent < 1.0
        assert line.startswith("data:")


def test_two_clients_behind_the_proxy_have_separate_rate_limit_budgets(proxy):
    with proxy.client("127.0.0.2") as first, proxy.client("127.0.0.3") as second:
        assert [first.get("/tasks").status_code for _ in range(3)] == [200, 200, 200]
        refused = first.get("/tasks")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert second.get("/tasks").status_code == 200


def test_a_forged_forwarded_for_header_does_not_dodge_the_limit(proxy):
    with proxy.client("127.0.0.14") as client:
        statuses = [
            client.get("/tasks", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
            for n in range(4)
        ]
        assert statuses == [200, 200, 200, 429]


@pytest.mark.serial
def test_a_held_long_poll_is_answered_by_the_api_not_cut_by_the_proxy(tmp_path):
    settings = {
        "trusted_proxies": "127.0.0.1",
        "workers": "1",
        "long_poll_timeout": "2",
        "shutdown_grace": "1",
    }
    with (
        proxied_api(tmp_path, **settings) as proxy,
        proxy.client("127.0.0.15", timeout=30) as client,
    ):
        client.post("/tasks", json=LONG_TASK).raise_for_status()  # holds the only worker 30 s
        waiting = client.post("/tasks", json=SHORT_TASK).json()["task_id"]
        started = time.monotonic()
        answer = client.get(f"/tasks/{waiting}", params={"wait": "true"})
        elapsed = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "queued"
        assert 1.9 < elapsed < 10


def test_the_proxy_waits_far_longer_than_a_default_long_poll():
    # The held request above shows nginx relays the API's late answer; how late it may
    # be is its read timeout, which must leave the default long-poll (10 s) a wide margin.
    timeouts = re.findall(r"^    proxy_read_timeout (\d+)s;", NGINX_CONF.read_text(), re.MULTILINE)
    assert timeouts, "webapp/nginx.conf sets no proxy_read_timeout for the API"
    assert int(timeouts[0]) >= 6 * Settings.model_fields["long_poll_timeout"].default
