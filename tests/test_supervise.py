"""``supervise``: processes of a plain function, stopped by a signal to this process.

The processes are real (spawned interpreters running the small targets below); the
signal comes from a thread of the test, once the processes are where the test wants.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event

import pytest

from taskmanager.replicas import SIGNALLED, supervise

SPAWN = multiprocessing.get_context("spawn")


def ignore_sigterm(ready: Event) -> None:
    """A process that will not stop when asked."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ready.set()
    time.sleep(60)


def wait_for_sigterm(ready: Event) -> None:
    """A process that stops when asked (SIGTERM's default action)."""
    ready.set()
    time.sleep(60)


def fail_at_once(started: Event) -> None:
    """A process that dies as soon as it starts, so it is restarted over and over."""
    started.set()
    raise SystemExit(3)


def sigterm_to_this_process_once(ready: Event) -> threading.Thread:
    def send() -> None:
        assert ready.wait(20), "the processes never got ready"
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=send, name="test:sigterm")
    thread.start()
    return thread


@pytest.fixture
def no_process_left() -> Iterator[None]:
    yield
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("no_process_left")
def test_processes_that_stop_when_asked_end_the_supervision_cleanly():
    ready = SPAWN.Event()
    sender = sigterm_to_this_process_once(ready)
    status = supervise(wait_for_sigterm, (ready,), count=2, stop_within=5, restart_pause=0)
    sender.join()
    assert status == SIGNALLED + signal.SIGTERM


@pytest.mark.usefixtures("no_process_left")
def test_a_process_still_running_after_the_deadline_is_killed_and_the_status_says_so():
    ready = SPAWN.Event()
    sender = sigterm_to_this_process_once(ready)
    started = time.monotonic()
    status = supervise(ignore_sigterm, (ready,), count=1, stop_within=0.3, restart_pause=0)
    sender.join()
    assert status == 1
    assert time.monotonic() - started < 10  # not the minute it would sleep


@pytest.mark.usefixtures("no_process_left")
def test_a_stop_amid_restarts_starts_nothing_more_and_leaves_nothing_behind():
    started = SPAWN.Event()
    sender = sigterm_to_this_process_once(started)  # while they die and start again
    status = supervise(fail_at_once, (started,), count=2, stop_within=5, restart_pause=0)
    sender.join()
    assert status in {1, SIGNALLED + signal.SIGTERM}  # 1 if one failed after the stop
