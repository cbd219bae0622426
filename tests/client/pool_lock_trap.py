"""A Ctrl-C that lands right after httpcore's connection pool has taken its lock.

httpcore takes the pool's lock in a ``with`` whose ``__enter__`` is Python code: a
SIGINT handled just after the ``acquire()`` raises KeyboardInterrupt before the ``with``
body starts, so the lock stays held and whatever takes it next waits forever.
``PoolLockTrap`` makes that happen on purpose: it counts the pool's requests and the
times the lock is taken for each, and raises SIGINT in this process at the chosen one.

Run as a script, it runs the ``taskmanager`` command with the trap set:
``pool_lock_trap.py REQUEST LOCK GRACE ARG...`` (GRACE: the command's seconds between a
Ctrl-C and ending on its own). It writes ``Ctrl-C`` on stderr once SIGINT's handler has run.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

from httpcore import ConnectionPool, Request, Response
from httpcore._sync import connection_pool
from httpcore._synchronization import ThreadLock

type Patch = Callable[[object, str, Any], None]


class PoolLockTrap:
    """SIGINT right after the pool's lock is taken the ``lock``-th time for request ``request``.

    ``lock=1`` is when the pool queues the request, ``lock=2`` when it gives it a
    connection (httpcore 1.0). With ``blocks=False`` taking the lock once SIGINT has been
    raised does not wait: it fails the test, as a lock still held means a hang.
    """

    def __init__(self, request: int, lock: int, *, blocks: bool, announce: bool = False) -> None:
        self.request, self.lock = request, lock
        self.blocks, self.announce = blocks, announce
        self.requests = self.taken = 0
        self.fired = False
        self.pools: set[ConnectionPool] = set()

    def install(self, patch: Patch) -> None:
        """Set the trap in httpcore's pool with ``patch`` (``monkeypatch.setattr``, ``setattr``)."""
        trap = self
        send = ConnectionPool.handle_request

        def handle_request(pool: ConnectionPool, request: Request) -> Response:
            trap.pools.add(pool)
            trap.requests += 1
            trap.taken = 0
            return send(pool, request)

        class TrappedLock(ThreadLock):
            def __enter__(self) -> ThreadLock:
                trap.take(self._lock)
                return self

        patch(ConnectionPool, "handle_request", handle_request)
        patch(connection_pool, "ThreadLock", TrappedLock)

    def close_connections(self) -> None:
        """Close the sockets that a command ended by Ctrl-C left open (its process would end)."""
        for pool in self.pools:
            for connection in pool.connections:
                connection.close()

    def take(self, lock: Any) -> None:
        """Take ``lock``; raise SIGINT here if this is the chosen time."""
        if self.fired and not self.blocks:
            if not lock.acquire(blocking=False):
                msg = "the pool's lock is still held since Ctrl-C: this would wait forever"
                raise AssertionError(msg)
        else:
            lock.acquire()
        self.taken += 1
        if not self.fired and (self.requests, self.taken) == (self.request, self.lock):
            self.fired = True
            try:
                signal.raise_signal(signal.SIGINT)  # its handler runs right here, lock held
            finally:  # once the handler has run
                if self.announce:
                    print("Ctrl-C", file=sys.stderr, flush=True)  # noqa: T201 - for the test


if __name__ == "__main__":
    from taskmanager.cli import interrupt, main

    request, lock, grace, *argv = sys.argv[1:]
    PoolLockTrap(int(request), int(lock), blocks=True, announce=True).install(setattr)
    interrupt.GRACE = float(grace)
    main(argv)
