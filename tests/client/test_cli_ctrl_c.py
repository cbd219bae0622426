"""Ctrl-C ends a client command at once, wherever it lands, even inside httpcore's pool.

In this process (``os._exit`` replaced): the command ends without taking the pool's lock
again. In a child process: the first Ctrl-C ends it even when httpcore's own clean-up
waits on that lock, and a second one kills it at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.server import ROOT, clean_environment
from client.pool_lock_trap import PoolLockTrap
from taskmanager.cli import main

TRAP = Path(__file__).with_name("pool_lock_trap.py")
DEADLINE = 30.0  # seconds a child gets; it is stuck for good well before


@pytest.fixture
def server(live_server):
    return live_server(fake_clock=False, time_scale=0.001)


@pytest.fixture
def cli(capsys, monkeypatch, server) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """Run the command here: its exit status, stdout and stderr. ``os._exit`` only raises."""

    def exit_at_once(status: int) -> None:
        raise SystemExit(status)

    monkeypatch.setattr(os, "_exit", exit_at_once)

    def run(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main([argv[0], "--url", server.url, *argv[1:]])
        captured = capsys.readouterr()
        assert isinstance(exited.value.code, int)
        return exited.value.code, captured.out, captured.err

    handler = signal.getsignal(signal.SIGINT)
    yield run
    signal.signal(signal.SIGINT, handler)  # the command left it to kill at the next Ctrl-C


@pytest.fixture
def trap(monkeypatch) -> Iterator[Callable[[int, int], PoolLockTrap]]:
    traps: list[PoolLockTrap] = []

    def set_trap(request: int, lock: int) -> PoolLockTrap:
        trap = PoolLockTrap(request, lock, blocks=False)
        trap.install(monkeypatch.setattr)
        traps.append(trap)
        return trap

    yield set_trap
    for trap in traps:
        trap.close_connections()


def test_ctrl_c_as_watch_opens_its_stream_ends_it_with_status_0(cli, trap):
    pool = trap(1, 1)
    assert cli("watch", "--json") == (0, "", "")
    assert pool.fired


@pytest.mark.parametrize(
    ("argv", "request_number"),
    [
        (("submit", "compute_sum", "numbers=1", "--delay", "60", "--wait", "--json"), 2),
        (("ls", "--json"), 1),
    ],
    ids=["submit --wait", "ls"],
)
def test_ctrl_c_in_the_pool_ends_a_command_with_status_130(cli, trap, argv, request_number):
    pool = trap(request_number, 1)
    assert cli(*argv) == (130, "", "")
    assert pool.fired


def test_a_command_that_ends_by_itself_puts_the_ctrl_c_handler_back(cli):
    status, out, _ = cli("ls", "--json")
    assert (status, out) == (0, "")
    with pytest.raises(KeyboardInterrupt):  # the handler it found is back
        signal.raise_signal(signal.SIGINT)


def start_trapped(server, lock: int, grace: float, *argv: str) -> subprocess.Popen[str]:
    """The command in a child process, its request 1 trapped at ``lock``."""
    env = clean_environment() | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(  # noqa: S603 - this interpreter, our own code
        [sys.executable, str(TRAP), "1", str(lock), str(grace), "--url", server.url, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def test_the_first_ctrl_c_ends_watch_even_when_httpcore_waits_on_its_own_lock(server):
    # Lock 2: httpcore's clean-up after the KeyboardInterrupt takes the lock it holds.
    process = start_trapped(server, 2, 0.1, "watch", "--json")
    try:
        out, err = process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert (process.returncode, out, err) == (0, "", "Ctrl-C\n")


def test_a_second_ctrl_c_kills_the_command_at_once(server):
    process = start_trapped(server, 2, DEADLINE * 2, "watch", "--json")
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == "Ctrl-C\n"  # the first one landed: it hangs
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=DEADLINE)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGINT
