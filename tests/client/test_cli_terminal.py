"""The console script in a child process: on a pseudo-terminal (the progress bar, the live
table), and on pipes; the server is ``python -m taskmanager`` in another process."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import Server, clean_environment, taskmanager_server
from taskmanager.client import Client

PORTS = range(8700, 8800)
DEADLINE = 30.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def command() -> list[str]:
    """The installed console script, or the module when the script is not installed."""
    script = Path(sys.executable).with_name("taskmanager")
    return [str(script)] if script.exists() else [sys.executable, "-m", "taskmanager"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    # A sum takes 0.5 s, a report section 0.1 s: long enough to be seen running.
    settings = {"time_scale": 0.1, "rate_limit": "1000/second", "shutdown_grace": 0}
    log_dir = tmp_path_factory.mktemp("cli-server")
    with taskmanager_server(log_dir, ports=PORTS, settings=settings) as running:
        yield running


def environment(server: Server) -> dict[str, str]:
    env = clean_environment() | {"TASKMANAGER_URL": server.url(), "TERM": "xterm-256color"}
    for variable in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "CI"):
        env.pop(variable, None)
    return env


class Terminal:
    """A child process on a pseudo-terminal of 100 x 30, its screen output collected."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = ""

    def read_until(self, pattern: str, seconds: float = DEADLINE) -> str:
        """Read until the plain text (escape sequences removed) matches ``pattern``."""
        deadline = time.monotonic() + seconds
        while not re.search(pattern, self.text):
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {pattern!r} in:\n{self.text[-3000:]}"
            if not self._read(left):
                assert re.search(pattern, self.text), f"{pattern!r} not in:\n{self.text[-3000:]}"
        return self.text

    def _read(self, seconds: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], seconds)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def finish(self, seconds: float = DEADLINE) -> int:
        """Read everything until the child exits; its exit status."""
        deadline = time.monotonic() + seconds
        while self._read(max(0.0, deadline - time.monotonic())):
            assert time.monotonic() < deadline, f"still running:\n{self.text[-3000:]}"
        return self.process.wait(seconds)

    @property
    def text(self) -> str:
        return ANSI.sub("", self.output)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@contextlib.contextmanager
def terminal(argv: list[str], env: dict[str, str]) -> Iterator[Terminal]:
    opened = Terminal(argv, env)
    try:
        yield opened
    finally:
        opened.close()


def test_submit_wait_on_a_terminal_draws_a_bar_that_reaches_100_and_prints_the_result(server):
    argv = [*command(), "submit", "compute_sum", "numbers=1,2,3", "--wait"]
    with terminal(argv, environment(server)) as screen:
        status = screen.finish()
    assert status == 0, screen.text
    assert "\r" in screen.output  # the bar is redrawn in place
    bars = [line for line in re.split(r"[\r\n]+", screen.text) if "compute_sum" in line]
    assert any("ETA" in line and "processing" in line for line in bars), bars
    last_bar = next(line for line in reversed(bars) if "ETA" in line)
    assert "100%" in last_bar
    assert "completed" in last_bar
    assert re.search(r"result\s+6\b", screen.text)


def test_the_bar_shows_a_reports_progress_section_by_section(server):
    argv = [*command(), "submit", "generate_report", "title=Q4", "sections=4", "--wait"]
    with terminal(argv, environment(server)) as screen:
        screen.read_until(r"\b(25|50|75)%")  # part way: the bar moved before the end
        status = screen.finish()
    assert status == 0
    assert "attempt 1/1" in screen.text
    assert "## Section 4 of 4" in screen.text


def test_a_cancelled_task_ends_the_bar_and_exits_4(server):
    with Client(server.url()) as client:
        task = client.submit("generate_report", {"title": "long", "sections": 10})
        argv = [*command(), "status", str(task.task_id), "--wait"]
        with terminal(argv, environment(server)) as screen:
            screen.read_until(r"processing")
            client.cancel(task.task_id)
            status = screen.finish()
    assert status == 4
    assert "cancelled" in screen.text


def test_watch_on_a_terminal_shows_a_live_table_and_stops_on_ctrl_c(server):
    with (
        Client(server.url()) as client,
        terminal([*command(), "watch"], environment(server)) as screen,
    ):
        screen.read_until(r"Ctrl-C to stop")
        task = client.submit("generate_report", {"title": "w", "sections": 2})
        screen.read_until(rf"{str(task.task_id)[:8]}\s+generate_report\s+processing")
        client.wait(task.task_id)
        screen.read_until(rf"{str(task.task_id)[:8]}\s+generate_report\s+completed\s.*100%")
        os.killpg(screen.process.pid, signal.SIGINT)
        status = screen.finish()
    assert status == 0
    assert "Traceback" not in screen.text


def test_watch_json_on_a_pipe_prints_one_event_a_line(server):
    with Client(server.url()) as client:
        streams_before = _event_streams(client)
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*command(), "watch", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(server),
        text=True,
        start_new_session=True,
    )
    try:
        with Client(server.url()) as client:
            # The stream is open once the server counts a subscriber; until then, wait.
            deadline = time.monotonic() + DEADLINE
            while _event_streams(client) <= streams_before:
                assert time.monotonic() < deadline, "watch never opened its stream"
                time.sleep(0.05)  # another process: nothing to wait on but its effect
            task = client.submit("compute_sum", {"numbers": [1]})
            kinds = []
            assert process.stdout is not None
            for line in process.stdout:
                event = json.loads(line)
                if event.get("task_id") == str(task.task_id):
                    kinds.append(event["kind"])
                if kinds and kinds[-1] == "completed":
                    break
        assert kinds == ["submitted", "started", "completed"]
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(DEADLINE) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _event_streams(client: Client) -> int:
    """How many event streams the server has open, from its metrics."""
    metrics = client._http.get("/metrics").text
    match = re.search(r"^taskmanager_event_streams (\d+)$", metrics, re.MULTILINE)
    assert match, metrics
    return int(match[1])


def test_submit_wait_on_a_pipe_prints_only_the_final_task(server):
    done = subprocess.run(  # noqa: S603 - our own command
        [*command(), "submit", "compute_sum", "numbers=1,2,3", "--wait", "--json"],
        capture_output=True,
        env=environment(server),
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["result"] == 6


def test_a_reader_that_goes_away_ends_the_listing_without_a_traceback(server):
    with Client(server.url()) as client:
        for n in range(3):
            client.submit("compute_sum", {"numbers": [n]})
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*command(), "ls", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(server),
    )
    assert process.stdout is not None
    process.stdout.close()  # as `| head -0` would, long before the command writes
    _, errors = process.communicate(timeout=DEADLINE)
    assert process.returncode == 1
    assert b"Traceback" not in errors
    assert b"Exception ignored" not in errors


def test_a_reader_that_goes_away_ends_keys_new_without_a_traceback(tmp_path):
    process = subprocess.Popen(  # noqa: S603 - our own command
        [*command(), "keys", "new", "alice"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # as `| head -0` would
    _, errors = process.communicate(timeout=DEADLINE)
    assert process.returncode == 1
    assert b"Traceback" not in errors
