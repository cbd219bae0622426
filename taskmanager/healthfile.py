"""A worker process's health file: touched while the process is healthy, checked for age.

A worker process serves no HTTP, so a container's health check cannot ask it; instead
the process touches a file each time it finds itself healthy (its actors run and its
store reaches Redis), and the health check asks how old the file is::

    python -m taskmanager.healthfile /tmp/worker.alive --max-age 30

exits 0 when the file was touched within the last 30 seconds, 1 otherwise (one line on
standard error says why). A process that hangs, has lost Redis or has died stops
touching it, so the file goes stale: the pid alone would not say any of that.

This module imports nothing of the service, so the check starts in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: The default age past which the file is stale; the worker touches it every quarter of
#: ``TASKMANAGER_LEASE`` (2.5 s by default).
DEFAULT_MAX_AGE = 30.0


def touch(path: Path) -> None:
    """Mark the process healthy now."""
    path.touch()
    os.utime(path)


def remove(path: Path) -> None:
    """Say at once that the process is going: a stopping worker is no longer healthy."""
    path.unlink(missing_ok=True)


def age(path: Path) -> float | None:
    """Seconds since the file was last touched; None if there is no such file."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def check(argv: Sequence[str] | None = None) -> int:
    """The health check's command line; returns its exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m taskmanager.healthfile",
        description="Exit 0 if a worker process touched its health file recently.",
    )
    parser.add_argument("path", type=Path, help="the file given to `taskmanager worker`")
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE,
        help=f"seconds after which the file is stale (default {DEFAULT_MAX_AGE:g})",
    )
    args = parser.parse_args(argv)
    seconds = age(args.path)
    if seconds is None:
        sys.stderr.write(f"unhealthy: {args.path} does not exist\n")
        return 1
    if seconds > args.max_age:
        sys.stderr.write(f"unhealthy: {args.path} last touched {seconds:.1f} s ago\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(check())
