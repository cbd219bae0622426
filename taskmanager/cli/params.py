"""Task parameters from the command line: ``numbers=1,2,3 title="Q4" sections=2``.

A value is read the way the task type's field wants it: a list field splits on commas,
a text field keeps the text as typed, and anything else is read as JSON when it is
JSON (``2``, ``true``, ``[1, 2]``) and as text otherwise. The service checks the rest.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Sequence
from typing import Any, Literal

from taskmanager.actors.tasktypes import TASK_TYPES

type FieldKind = Literal["list", "text", "other"]


class ParameterError(ValueError):
    """A ``name=value`` argument that cannot be read."""


def parse_parameters(task_type: str, pairs: Sequence[str]) -> dict[str, Any]:
    """The parameters object for ``task_type`` from ``name=value`` arguments."""
    kinds = field_kinds(task_type)
    parameters: dict[str, Any] = {}
    for pair in pairs:
        name, equals, raw = pair.partition("=")
        if not equals or not name:
            raise ParameterError(f"expected name=value, got {pair!r}")
        if name in parameters:
            raise ParameterError(f"{name} is given twice")
        parameters[name] = _value(raw, kinds.get(name, "other"))
    return parameters


def field_kinds(task_type: str) -> dict[str, FieldKind]:
    """How each parameter of a known task type is read; empty for an unknown type."""
    cls = TASK_TYPES.get(task_type)
    if cls is None:
        return {}
    hints = typing.get_type_hints(cls)
    kinds: dict[str, FieldKind] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]  # every task type is one
        name, hint = field.name, hints[field.name]
        origin = typing.get_origin(hint) or hint
        if origin in {tuple, list}:
            kinds[name] = "list"
        elif hint is str:
            kinds[name] = "text"
        else:
            kinds[name] = "other"
    return kinds


def _value(raw: str, kind: FieldKind) -> Any:  # noqa: ANN401 - any JSON value
    match kind:
        case "text":
            return raw
        case "list" if not raw.lstrip().startswith("["):
            return [_scalar(item.strip()) for item in raw.split(",") if item.strip()]
        case _:
            return _scalar(raw)


def _scalar(raw: str) -> Any:  # noqa: ANN401 - any JSON value
    try:
        return json.loads(raw)
    except ValueError:
        return raw
