"""A task record as Redis keeps it (a hash of strings), and back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from taskmanager.actors.model import ParametersObject, Task, TaskError, TaskStatus

UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch, exactly."""
    return (moment - UNIX_EPOCH) // _MICROSECOND


def from_us(text: str) -> datetime | None:
    """The moment ``text`` (microseconds since the epoch) names; None for ''."""
    return UNIX_EPOCH + timedelta(microseconds=int(text)) if text else None


def pairs(flat: Sequence[str]) -> dict[str, str]:
    """A hash as HGETALL in a script returns it (name, value, name, value, ...)."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def parameters_json(parameters: ParametersObject) -> str:
    """The parameters as the record keeps them."""
    return parameters.json.decode()


def parse_parameters(text: str) -> ParametersObject:
    """The parameters of a record."""
    return ParametersObject(text.encode())


def task_from(
    fields: Mapping[str, str],
    parameters: ParametersObject | None = None,
    task_id: UUID | str | None = None,
) -> Task:
    """The task a record (or an event's copy of one) describes.

    ``parameters`` stands in for the record's own when it has none (events leave them out).
    ``task_id`` is the task's id when ``fields`` has none: a record keeps it in its key.
    A field the record leaves out is empty or at its default (records of earlier versions
    kept those, and read the same); a missing run_at is the creation time.
    """
    if parameters is None:
        parameters = parse_parameters(fields["params"])
    created = from_us(fields["created"])
    assert created is not None  # noqa: S101 - every record has it
    run_at = from_us(fields.get("run_at", "")) or created
    error_type = fields.get("etype", "")
    result = fields.get("result", "")
    timeout = fields.get("timeout", "")
    return Task(
        task_id=UUID(str(task_id or fields["id"])),
        task_type=fields["type"],
        status=TaskStatus(fields["status"]),
        parameters=parameters,
        created_at=created,
        run_at=run_at,
        started_at=from_us(fields.get("started", "")),
        finished_at=from_us(fields.get("finished", "")),
        progress=float(fields.get("progress") or 0),
        result=json.loads(result) if result else None,
        error=TaskError(error_type, fields.get("emsg", "")) if error_type else None,
        priority=int(fields.get("priority") or 0),
        timeout=float(timeout) if timeout else None,
        max_retries=int(fields.get("max_retries") or 0),
        attempts=int(fields.get("attempts") or 0),
        schedule=fields.get("schedule") or None,
        depends_on=_ids(fields.get("deps", "")),
        waiting_for=_ids(fields.get("waitf", "")),
    )


def _ids(text: str) -> tuple[UUID, ...]:
    """Task ids as a record keeps them: comma separated."""
    return tuple(UUID(part) for part in text.split(",")) if text else ()
