"""The schedules API: put (create or replace), read, list, delete."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from taskmanager.actors.model import ParametersObject
from taskmanager.actors.schedules import (
    NAME_PATTERN,
    DeleteSchedule,
    GetSchedule,
    ListSchedules,
    PutSchedule,
    Schedule,
    ScheduleSpec,
    Timing,
    TooManySchedules,
    cron_problem,
    zone,
)
from taskmanager.actors.system import ActorSystem
from taskmanager.http import examples
from taskmanager.http.admission import caller_of
from taskmanager.http.operations import JSON_MEDIA_TYPE, Reply, error, read_json_body
from taskmanager.http.schemas import (
    ErrorBody,
    TaskRequests,
    Timed,
    options_of,
)

router = APIRouter(prefix="/schedules", tags=["schedules"])

SCHEDULE: Final = TypeAdapter(Schedule)
SCHEDULES: Final = TypeAdapter(list[Schedule])

_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many requests from this client"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such schedule"},
}

ScheduleName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        description="1 to 100 of `a-z 0-9 _ -`",
        examples=["nightly-report"],
    ),
]


def _system(request: Request) -> ActorSystem:
    system: ActorSystem = request.app.state.system
    return system


def _reply(status: int, schedule: Schedule) -> Response:
    headers = {"Location": f"/schedules/{schedule.name}"} if status == 201 else None  # noqa: PLR2004
    return Response(SCHEDULE.dump_json(schedule), status, headers, JSON_MEDIA_TYPE)


def _not_found(name: str) -> Response:
    return error(404, f"schedule {name} not found").response()


def _timing(request: Timed) -> Timing | str:
    """When the schedule is due, or what is wrong with it (naming the field)."""
    if request.every is None and request.cron is None:
        return "every: give `every` (seconds) or `cron` (a cron expression)"
    if request.every is not None and request.cron is not None:
        return "cron: give `every` or `cron`, not both"
    if request.cron is None:
        if request.timezone is not None:
            return "timezone: only a `cron` schedule has a time zone"
        return Timing(every=request.every)
    cron = " ".join(request.cron.split())
    if (problem := cron_problem(cron)) is not None:
        return f"cron: {problem}"
    timezone = request.timezone or "UTC"
    if zone(timezone) is None:
        return f"timezone: unknown time zone {timezone!r}, expected an IANA name"
    return Timing(cron=cron, timezone=timezone)


@router.put(
    "/{name}",
    summary="Create or replace a schedule",
    description=(
        "A task body (as for `POST /tasks`) plus when it is due: `every` seconds, or a "
        "five-field `cron` expression read in `timezone` (default UTC). Each due time makes "
        "exactly one task, whichever replica runs it; the task carries `schedule`. Due "
        "times missed while the service was down are made up once. Replacing a schedule "
        "starts its due times again from now."
    ),
    response_model=Schedule,
    status_code=200,
    responses={
        200: {"description": "Replaced"},
        201: {
            "model": Schedule,
            "description": "Created",
            "headers": {
                "Location": {"description": "The new schedule", "schema": {"type": "string"}}
            },
        },
        400: {
            "model": ErrorBody,
            "description": "Invalid name, task body, `every`, `cron` or `timezone`",
        },
        404: {"model": ErrorBody, "description": "The name belongs to another key's schedule"},
        409: {"model": ErrorBody, "description": "A new schedule past the most kept (1,000)"},
        413: {"model": ErrorBody, "description": "The body is larger than 1 MiB"},
        415: {"model": ErrorBody, "description": "The body is not JSON"},
        **_RATE_LIMITED,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/ScheduleRequest"},
                    "examples": examples.SCHEDULE_PUT,
                }
            },
        },
    },
)
async def put_schedule(name: ScheduleName, request: Request) -> Response:
    """Validate the body and create or replace the schedule."""
    headers = request.headers
    body = await read_json_body(
        headers.get("content-type", ""),
        headers.get("content-length"),
        request.receive,
        _system(request).settings.body_timeout,
    )
    if isinstance(body, Reply):
        return body.response()
    requests: TaskRequests = request.app.state.requests
    try:
        parsed = requests.validate_schedule_json(body)
    except ValidationError as exc:
        return error(400, requests.describe(exc)).response()
    timing = _timing(parsed)
    if isinstance(timing, str):
        return error(400, timing).response()
    parameters = ParametersObject.of(parsed.parameters)
    spec = ScheduleSpec(name, parsed.task_type, parameters, options_of(parsed), timing)
    caller = caller_of(request.scope)
    saved = await _system(request).schedules.ask(PutSchedule(spec, caller.key_name, caller.viewer))
    if saved is None:
        return _not_found(name)
    if isinstance(saved, TooManySchedules):
        detail = f"at most {saved.limit} schedules are kept; delete one first"
        return error(409, detail).response()
    return _reply(201 if saved.created else 200, saved.schedule)


@router.get(
    "",
    summary="List schedules",
    description="Every schedule the caller may see, by name.",
    response_model=list[Schedule],
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.SCHEDULE_LIST}}},
        **_RATE_LIMITED,
    },
)
async def list_schedules(request: Request) -> Response:
    """The schedules, by name."""
    schedules = await _system(request).schedules.ask(ListSchedules(caller_of(request.scope).viewer))
    return Response(SCHEDULES.dump_json(list(schedules)), media_type=JSON_MEDIA_TYPE)


@router.get(
    "/{name}",
    summary="Get a schedule",
    response_model=Schedule,
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.SCHEDULE}}},
        400: {"model": ErrorBody, "description": "The name is not a schedule's name"},
        **_NOT_FOUND,
        **_RATE_LIMITED,
    },
)
async def get_schedule(name: ScheduleName, request: Request) -> Response:
    """The schedule, with its next due time and the task it made last."""
    schedule = await _system(request).schedules.ask(
        GetSchedule(name, caller_of(request.scope).viewer)
    )
    return _not_found(name) if schedule is None else _reply(200, schedule)


@router.delete(
    "/{name}",
    summary="Delete a schedule",
    description="It makes no more tasks; the tasks it made stay as they are.",
    response_model=Schedule,
    responses={
        200: {"content": {JSON_MEDIA_TYPE: {"examples": examples.SCHEDULE}}},
        400: {"model": ErrorBody, "description": "The name is not a schedule's name"},
        **_NOT_FOUND,
        **_RATE_LIMITED,
    },
)
async def delete_schedule(name: ScheduleName, request: Request) -> Response:
    """Delete the schedule and answer with it as it was."""
    schedule = await _system(request).schedules.ask(
        DeleteSchedule(name, caller_of(request.scope).viewer)
    )
    return _not_found(name) if schedule is None else _reply(200, schedule)
