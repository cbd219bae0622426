"""Task ids as people type them: the whole id, or the start the monitor and the bar show.

The monitor, the progress bar and ``watch`` show an id's first 8 hex digits.

A start is looked up in the listing the caller may see (with a key, its own tasks), newest
first, a page of the most the API gives at a time: one request while at most that many
tasks are kept.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

from taskmanager.client import Client, NotFound

#: What can be the start of a task id: hex digits, with the dashes where the id has them.
ID_START: Final = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")
#: Tasks per page while looking: the most ``GET /tasks`` gives at once.
PAGE_SIZE: Final = 10_000
#: How many of the ids that fit an ambiguous start the error names.
NAMED: Final = 3


class AmbiguousId(ValueError):  # noqa: N818 - named after what the user typed
    """More than one task's id starts with what was given."""


def task_id_of(client: Client, given: str) -> str:
    """The id of the task ``given`` names: its whole id, or the start of exactly one id.

    Raises ``NotFound`` when no task the caller may see has an id that starts so, and
    ``AmbiguousId`` when more than one has. Anything that is neither an id nor the start
    of one goes to the service as it is, which says what is wrong with it.
    """
    try:
        return str(uuid.UUID(given))
    except ValueError:
        pass
    start = given.strip().lower()
    if ID_START.fullmatch(start) is None:
        return given
    found: list[str] = []
    for task in client.list(order="newest", page_size=PAGE_SIZE):
        task_id = str(task.task_id)
        if task_id.startswith(start):
            found.append(task_id)
            if len(found) > NAMED:
                break  # enough to say it is ambiguous
    if not found:
        raise NotFound(f"no task's id starts with {start}", status_code=404)
    if len(found) > 1:
        named = ", ".join(found[:NAMED]) + (", ..." if len(found) > NAMED else "")
        raise AmbiguousId(
            f"more than one task's id starts with {start} ({named}): give more of the id"
        )
    return found[0]
