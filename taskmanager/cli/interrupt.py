"""Ctrl-C ends a client command at once, wherever it lands.

httpcore (1.0) takes its connection pool's lock in a ``with`` whose ``__enter__`` is
Python code: a KeyboardInterrupt raised just after the lock is acquired leaves it held,
and whatever takes it next, ``Client.close()`` or httpcore's own clean-up of the
interrupted request, waits for it forever. So after the first Ctrl-C the command does not
close its client: it lets the interrupt unwind (the live table and the progress bar draw
their last frame), flushes its output and leaves with ``os._exit``. Should the unwinding
itself wait on that lock, a watchdog ends the process ``GRACE`` seconds after Ctrl-C; and
a second Ctrl-C kills it at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Final, Self

type Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

#: Seconds between Ctrl-C and the watchdog ending a command that has not ended by then;
#: unwinding takes milliseconds, unless it waits on a lock that nothing will release.
GRACE: Final = 1.0


class CtrlC:
    """While entered, the first Ctrl-C raises KeyboardInterrupt and makes the process end.

    ``status`` is the exit status after Ctrl-C. On leaving the block after a Ctrl-C, the
    process flushes its output and exits; the block should not close its client then.
    """

    def __init__(self, status: int) -> None:
        self.status = status
        self.pressed = False
        self._woken = threading.Event()  # Ctrl-C, or the block has ended
        self._ended = threading.Event()
        self._watchdog = threading.Thread(target=self._end_if_stuck, name="ctrl-c", daemon=True)
        self._previous: Handler = signal.SIG_DFL

    def __enter__(self) -> Self:
        # The watchdog starts now, not in the handler: the handler may run where the
        # main thread holds a lock that starting a thread takes.
        self._watchdog.start()
        self._previous = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.pressed:
            _flush()  # still under the watchdog: a flush may wait for a slow reader
        else:
            # Put the handler back before setting the events: it sets one too, and an
            # event's lock is not reentrant.
            signal.signal(signal.SIGINT, self._previous)
        self._ended.set()
        self._woken.set()
        self._watchdog.join()
        if self.pressed:
            os._exit(self.status)

    def _interrupt(self, _signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C kills at once
        self.pressed = True
        self._woken.set()
        raise KeyboardInterrupt

    def _end_if_stuck(self) -> None:
        self._woken.wait()
        if self.pressed and not self._ended.wait(GRACE):
            # No flush: the main thread is stuck somewhere, perhaps inside a write.
            os._exit(self.status)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader went away, or the stream was closed
            continue
