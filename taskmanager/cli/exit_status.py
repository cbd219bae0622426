"""What the command's exit status means, so scripts can tell outcomes apart."""

from __future__ import annotations

import os
import sys
from enum import IntEnum

from taskmanager.actors.model import Task, TaskStatus


class ExitStatus(IntEnum):
    """The command's exit statuses."""

    OK = 0  # done; for a task, it completed (or has not finished yet)
    FAILED = 1  # the task failed, or the service refused the request
    USAGE = 2  # the command line (or a task's parameters) was wrong
    NOT_FOUND = 3  # no such task
    CANCELLED = 4  # the task was cancelled
    UNREACHABLE = 5  # no answer from the service, or it is unavailable
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def reader_gone() -> ExitStatus:
    """The reader of standard output went away (``| head``): stop quietly.

    Standard output goes to /dev/null, so flushing it at exit does not fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitStatus.FAILED


def of_task(task: Task) -> ExitStatus:
    """The exit status that reports a task's outcome."""
    match task.status:
        case TaskStatus.FAILED:
            return ExitStatus.FAILED
        case TaskStatus.CANCELLED:
            return ExitStatus.CANCELLED
        case _:
            return ExitStatus.OK
