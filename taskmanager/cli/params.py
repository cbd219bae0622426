"""Task parameters from the command line: ``numbers=1,2,3 title="Q4" sections=2``.

A value is read the way the task type's field wants it: a list field splits on commas,
a text field keeps the text as typed, and anything else is read as JSON when it is
JSON (``2``, ``true``, ``[1, 2]``) and as text otherwise. What each field wants comes
from the service's OpenAPI document, so a task type of the user's own needs nothing
installed here. The service checks the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

type FieldKind = Literal["list", "text", "other"]
_REF_PREFIX = "#/components/schemas/"


class ParameterError(ValueError):
    """A ``name=value`` argument that cannot be read."""


def parse_parameters(pairs: Sequence[str], kinds: Mapping[str, FieldKind]) -> dict[str, Any]:
    """The parameters object from ``name=value`` arguments, each read as ``kinds`` says."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        name, equals, raw = pair.partition("=")
        if not equals or not name:
            raise ParameterError(f"expected name=value, got {pair!r}")
        if name in parameters:
            raise ParameterError(f"{name} is given twice")
        parameters[name] = _value(raw, kinds.get(name, "other"))
    return parameters


def field_kinds(openapi: Mapping[str, Any], task_type: str) -> dict[str, FieldKind]:
    """How each parameter of ``task_type`` is read, from the service's OpenAPI document.

    Empty for a type the document does not describe (the service then says what is wrong).
    """
    schemas: Mapping[str, Any] = openapi.get("components", {}).get("schemas", {})
    body = schemas.get("TaskRequest", {})
    for member in body.get("oneOf", body.get("anyOf", [body])):
        request = _resolve(schemas, member)
        properties = request.get("properties", {})
        if properties.get("task_type", {}).get("const") != task_type:
            continue
        model = _resolve(schemas, properties.get("parameters", {}))
        return {
            name: _kind(_resolve(schemas, field))
            for name, field in model.get("properties", {}).items()
        }
    return {}


def _resolve(schemas: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema a ``$ref`` (or a one-item ``allOf``) points to."""
    while True:
        if "$ref" in schema and str(schema["$ref"]).startswith(_REF_PREFIX):
            schema = schemas.get(str(schema["$ref"]).removeprefix(_REF_PREFIX), {})
        elif len(schema.get("allOf", ())) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def _kind(field: Mapping[str, Any]) -> FieldKind:
    # An optional field is anyOf its type and null: the type decides.
    types = {
        member.get("type") for member in field.get("anyOf", [field]) if isinstance(member, dict)
    } - {"null"}
    if types == {"array"}:
        return "list"
    if types == {"string"}:
        return "text"
    return "other"


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
