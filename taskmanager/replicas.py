"""Several processes of one function, kept running until a stop signal, and ended together.

``supervise`` starts them (``spawn``: each a fresh interpreter), starts another when one
dies, stops them all on SIGTERM or SIGINT within a deadline, and returns an exit status
that says whether they ended cleanly. Each process also ends when its parent dies, even
by SIGKILL, so that nothing is left serving that nobody can stop.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger("taskmanager.replicas")

#: Exit statuses of a process that stopped as told.
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})
#: A shell shows a process ended by signal N as 128 + N.
SIGNALLED = 128
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Seconds the replicas get to take a Ctrl-C of their own before they are sent SIGTERM.
SIGINT_HEAD_START = 0.3

type Process = multiprocessing.process.BaseProcess


def supervise(  # noqa: PLR0913 - past the second all keywords
    target: Callable[..., object],
    args: tuple[object, ...],
    *,
    count: int,
    stop_within: float,
    restart_pause: float,
    name: str = "replica process",
) -> int:
    """Run ``count`` processes of ``target(*args)`` until SIGTERM or SIGINT; the exit status.

    A process that dies is started again after ``restart_pause`` seconds (one that fails
    at once must not spin), unless stopping has begun by then. The first SIGTERM or
    SIGINT stops them all: each gets SIGTERM, and none starts any more; those still
    running ``stop_within`` seconds later are killed. A second SIGINT (Ctrl-C pressed
    again) is passed on, for whatever "at once" means to them.

    The status: 128 plus the first signal when every process ended as told, as a shell
    shows a process ended by that signal; 1 when one had to be killed or failed.
    """
    return _Supervision(target, args, name=name, restart_pause=restart_pause).run(
        count, stop_within
    )


def exit_with(status: int) -> None:
    """End this process with ``status``; past 128, by the signal it stands for."""
    if status > SIGNALLED:
        sig = signal.Signals(status - SIGNALLED)
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)
    raise SystemExit(status)


class _Supervision:
    """The state of one ``supervise`` call; only its loop starts and signals processes.

    The signal handler only notes the signal and wakes the loop, so that no process
    starts between a signal and its forwarding: a process started just before a stop
    is among those the loop signals next.
    """

    def __init__(
        self,
        target: Callable[..., object],
        args: tuple[object, ...],
        *,
        name: str,
        restart_pause: float,
    ) -> None:
        self._target = target
        self._args = args
        self._name = name
        self._restart_pause = restart_pause
        self._context = multiprocessing.get_context("spawn")
        self._children: list[Process] = []
        self._received: list[int] = []
        self._handled = 0
        self._restarts: list[float] = []  # when each process that died starts again
        self._deadline: float | None = None  # set once stopping: then nothing starts
        self._clean = True
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)

    def run(self, count: int, stop_within: float) -> int:
        previous = {sig: signal.signal(sig, self._note) for sig in STOP_SIGNALS}
        try:
            for _ in range(count):
                if self._received:
                    break
                self._start()
            while self._children or (self._restarts and self._deadline is None):
                self._handle_signals(stop_within)
                if self._restart_due():
                    continue  # a signal may have come while it started: handle it first
                self._kill_late()
                self._wait()
                self._reap()
        finally:
            self._signal_all(signal.SIGKILL)  # only if the loop failed: leave nothing behind
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._wake_read)
            os.close(self._wake_write)
        if not self._received or not self._clean:
            return 1
        return SIGNALLED + self._received[0]

    def _note(self, sig: int, _: FrameType | None) -> None:
        self._received.append(sig)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _start(self) -> None:
        child = self._context.Process(
            target=_supervised, args=(self._target, self._args), daemon=False
        )
        child.start()
        self._children.append(child)

    def _signal_all(self, sig: int) -> None:
        for child in self._children:
            if child.pid is not None and child.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, sig)

    def _handle_signals(self, stop_within: float) -> None:
        while self._handled < len(self._received):
            sig = self._received[self._handled]
            self._handled += 1
            if self._deadline is None:
                self._deadline = time.monotonic() + stop_within
                self._restarts.clear()
                if sig == signal.SIGINT:
                    # Ctrl-C reaches the whole process group: each replica has its own
                    # SIGINT on the way, and must see it before this SIGTERM, which is
                    # for a SIGINT sent to this process alone. A SIGINT after another
                    # signal is uvicorn's "stop now", which skips the drain.
                    time.sleep(SIGINT_HEAD_START)
                self._signal_all(signal.SIGTERM)
            elif sig == signal.SIGINT:
                self._signal_all(signal.SIGINT)

    def _restart_due(self) -> bool:
        if self._deadline is not None or not self._restarts:
            return False
        if self._restarts[0] > time.monotonic():
            return False
        self._restarts.pop(0)
        self._start()
        return True

    def _kill_late(self) -> None:
        if self._deadline is None or time.monotonic() < self._deadline or not self._children:
            return
        logger.error(
            "%d %ses still running after the stop; killing them", len(self._children), self._name
        )
        self._clean = False
        self._signal_all(signal.SIGKILL)
        self._deadline = float("inf")

    def _wait(self) -> None:
        """Until a process ends, a signal comes, or the next restart or deadline is due."""
        wake_at = (
            self._deadline if self._deadline is not None else min(self._restarts, default=None)
        )
        timeout = None
        if wake_at is not None and wake_at != float("inf"):
            timeout = max(0.0, wake_at - time.monotonic())
        ready = multiprocessing.connection.wait(
            [self._wake_read, *(child.sentinel for child in self._children)], timeout
        )
        if self._wake_read in ready:
            os.read(self._wake_read, 512)

    def _reap(self) -> None:
        for child in [child for child in self._children if child.exitcode is not None]:
            self._children.remove(child)
            child.join()
            if self._deadline is None:
                logger.error(
                    "%s %s ended with status %s; starting another in %s s",
                    self._name,
                    child.pid,
                    child.exitcode,
                    self._restart_pause,
                )
                self._restarts.append(time.monotonic() + self._restart_pause)
            elif child.exitcode not in CLEAN_EXITS:
                logger.error("%s %s stopped with status %s", self._name, child.pid, child.exitcode)
                self._clean = False


def _supervised(target: Callable[..., object], args: tuple[object, ...]) -> None:
    """One supervised process: ``target(*args)``, told to stop once its parent is gone.

    The parent may die without a word (SIGKILL, the out-of-memory killer): the pipe from
    it then closes, and this process sends itself SIGTERM, so that it drains and ends
    rather than serving on as an orphan nobody stops.
    """
    # Ctrl-C before the target handles it ends the process, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            logger.warning("the supervising process is gone; stopping")
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    target(*args)
