"""bench.server: the one way the bench, the load test and the tests run a server process.

The servers here are stand-ins a few lines long (Python's http.server answering /healthz),
so the tests show the wrapper's behaviour without paying for the product's start-up.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import textwrap

import httpx
import pytest

from bench.harness import Servers
from bench.server import HOST, Server, ServerError, free_port

PORTS = range(8200, 8300)  # the range the tests that start servers keep to

# argv[1] is the port; the lines before `serve` decide how the stand-in behaves.
STAND_IN = """
import http.server, os, signal, subprocess, sys, time
port = int(sys.argv[1])
{setup}
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
print("serving", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def stand_in(tmp_path, setup: str = "") -> Server:
    port = free_port(PORTS)
    script = STAND_IN.format(setup=textwrap.dedent(setup))
    argv = [sys.executable, "-c", script, str(port)]
    return Server("stand-in", argv, port=port, log_dir=tmp_path)


def ephemeral_port() -> int:
    """A port the kernel just found free, for tests that need a range of exactly one."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def test_a_port_something_listens_on_is_not_handed_out():
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} is in use"):
            free_port(range(port, port + 1))


def test_a_port_is_handed_out_once_even_before_anything_binds_it():
    port = ephemeral_port()
    assert free_port(range(port, port + 1)) == port
    with pytest.raises(ServerError, match=f"port {port} is in use"):
        free_port(range(port, port + 1))


def test_entering_a_server_waits_until_it_answers_and_leaving_stops_it_with_sigterm(tmp_path):
    # The stand-in takes a moment before it listens: only waiting on the probe gets a 200.
    server = stand_in(tmp_path, setup="time.sleep(0.3)")
    with server:
        assert httpx.get(server.url("/healthz"), timeout=5).status_code == 200
        assert server.process.poll() is None
    assert server.process.returncode == -signal.SIGTERM
    assert server.log == tmp_path / f"stand-in-{server.port}.log"
    assert "serving" in server.output()


def test_a_server_that_exits_while_starting_fails_with_the_end_of_its_log(tmp_path):
    server = stand_in(tmp_path, setup="print('no database here', flush=True); sys.exit(3)")
    with pytest.raises(ServerError) as failure, server:
        pytest.fail("the with block must not run")
    assert "exited with status 3" in str(failure.value)
    assert "no database here" in str(failure.value)
    assert server.process.returncode == 3


def test_a_server_that_never_answers_is_stopped_and_named_in_the_error(tmp_path):
    server = stand_in(tmp_path, setup="time.sleep(3600)")
    server.start()
    try:
        with pytest.raises(ServerError, match=r"stand-in server on port \d+ did not answer"):
            server.wait_ready(timeout=0.3)
    finally:
        status = server.stop()
    assert status == -signal.SIGTERM


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    server = stand_in(tmp_path, setup="signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    server.start()
    server.wait_ready()
    assert server.stop(grace=0.2) == -signal.SIGKILL


def test_stopping_a_server_ends_the_processes_it_started_too(tmp_path):
    setup = """
        child = subprocess.Popen(["sleep", "3600"])
        print("child", child.pid, flush=True)
    """
    server = stand_in(tmp_path, setup=setup)
    server.start()
    try:
        server.wait_ready()
        line = next(line for line in server.output().splitlines() if line.startswith("child"))
        child_exited = os.pidfd_open(int(line.split()[1]))
    finally:
        server.stop()
    try:
        readable, _, _ = select.select([child_exited], [], [], 5)
        assert readable == [child_exited], "the server's child outlived it"
    finally:
        os.close(child_exited)


def test_the_bench_servers_get_the_settings_they_name_and_none_from_the_shell(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TASKMANAGER_WORKERS", "99")
    product = Servers(tmp_path).product("product", time_scale=0.001)
    assert product.env is not None
    assert product.env["TASKMANAGER_TIME_SCALE"] == "0.001"
    assert product.env["TASKMANAGER_RATE_LIMIT"] == "1000000/second"
    assert "TASKMANAGER_WORKERS" not in product.env
    assert product.argv[-4:] == ["--host", HOST, "--port", str(product.port)]
    assert product.port in range(8300, 8400)
