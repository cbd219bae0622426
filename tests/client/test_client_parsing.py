"""The pieces without I/O: the SSE decoder, command-line parameters, Retry-After, the live
table, a task's parameters."""

from __future__ import annotations

import copy
import pickle
import uuid
from typing import Any

import httpx
import pytest

from taskmanager.cli.display import WatchTable, status_text
from taskmanager.cli.params import ParameterError, field_kinds, parse_parameters
from taskmanager.client import Event, Task, TaskStatus
from taskmanager.client._protocol import TASK, retry_after
from taskmanager.client.sse import ServerSentEvent, SSEDecoder
from taskmanager.config import Settings
from taskmanager.http.app import create_app


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The service's OpenAPI document with the demo task types, as the CLI reads it."""
    return create_app(Settings()).openapi()


def decode(lines: list[str], decoder: SSEDecoder | None = None) -> list[ServerSentEvent]:
    decoder = decoder or SSEDecoder()
    return [message for line in lines if (message := decoder.feed(line)) is not None]


def test_a_message_ends_at_a_blank_line_and_keeps_its_id_and_name():
    messages = decode(["id: e-1", "event: submitted", 'data: {"a":1}', ""])
    assert messages == [ServerSentEvent("submitted", '{"a":1}', "e-1")]


def test_comments_retry_and_unknown_fields_are_not_messages():
    decoder = SSEDecoder()
    assert decode([": ping", "", "retry: 2000", "", "colour: blue", ""], decoder) == []
    assert decoder.retry == 2.0


def test_data_lines_join_and_the_last_id_carries_over_to_a_message_without_one():
    decoder = SSEDecoder("old-1")
    messages = decode(["data: one", "data:two", "", "event: resync", "data: {}", ""], decoder)
    assert messages == [
        ServerSentEvent("message", "one\ntwo", "old-1"),
        ServerSentEvent("resync", "{}", "old-1"),
    ]


def test_a_message_cut_off_by_a_drop_is_forgotten():
    decoder = SSEDecoder()
    decoder.feed("id: e-5")
    decoder.feed("data: half")
    decoder.discard_partial()
    assert decode(["data: whole", ""], decoder) == [ServerSentEvent("message", "whole", "e-5")]


def test_an_id_with_a_nul_is_ignored_as_the_specification_says():
    assert decode(["id: a\0b", "data: x", ""], SSEDecoder("kept")) == [
        ServerSentEvent("message", "x", "kept")
    ]


@pytest.mark.parametrize(
    ("task_type", "pairs", "expected"),
    [
        ("compute_sum", ["numbers=1,2,3.5"], {"numbers": [1, 2, 3.5]}),
        ("compute_sum", ["numbers=7"], {"numbers": [7]}),
        ("compute_sum", ["numbers=[1, 2]"], {"numbers": [1, 2]}),
        ("generate_report", ["title=2024", "sections=2"], {"title": "2024", "sections": 2}),
        ("generate_report", ["title=a=b, c"], {"title": "a=b, c"}),
        ("simulate_error", ["error=timeout"], {"error": "timeout"}),
        ("not_known_here", ["flag=true", "name=x"], {"flag": True, "name": "x"}),
    ],
)
def test_parameters_are_read_as_each_field_wants(openapi, task_type, pairs, expected):
    assert parse_parameters(pairs, field_kinds(openapi, task_type)) == expected


@pytest.mark.parametrize("pairs", [["numbers"], ["=1"], ["numbers=1", "numbers=2"]])
def test_a_parameter_that_is_not_name_value_once_is_refused(pairs):
    with pytest.raises(ParameterError):
        parse_parameters(pairs, {"numbers": "list"})


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("57", 57.0), ("0", 0.0), ("1.5", 1.5), ("soon", None), ("-3", 0.0)],
)
def test_retry_after_is_read_in_seconds(header, seconds):
    response = httpx.Response(429, headers={"Retry-After": header})
    assert retry_after(response) == seconds


def test_retry_after_as_an_http_date_in_the_past_is_now():
    response = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(response) == 0.0


def _task(task_id: uuid.UUID, status: str, waiting_for: tuple[uuid.UUID, ...] = ()) -> Task:
    return TASK.validate_python(
        {
            "task_id": task_id,
            "task_type": "compute_sum",
            "status": status,
            "parameters": {"numbers": [1]},
            "created_at": "2026-01-01T00:00:00Z",
            "run_at": "2026-01-01T00:00:00Z",
            "depends_on": waiting_for,
            "waiting_for": waiting_for,
        }
    )


def test_the_live_table_stops_showing_a_wait_once_the_dependency_completes():
    # The stream says nothing about the dependant when its dependency completes: with
    # every worker busy it stays queued, and no event of its own comes until one is free.
    first, second, beside = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    table = WatchTable(rows=10)
    table.reset([_task(second, "queued", (first,)), _task(beside, "queued", (second,))])
    assert [str(status_text(task)) for task in table.rows] == [
        "queued, waiting for 1",
        "queued, waiting for 1",
    ]
    done = _task(first, "completed")
    table.apply(Event("1", "completed", first, TaskStatus.COMPLETED, 1.0, done))
    shown = {task.task_id: str(status_text(task)) for task in table.rows}
    assert shown[second] == "queued"
    assert shown[beside] == "queued, waiting for 1"


TASK_JSON = (
    b'{"task_id":"3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a65","task_type":"compute_sum",'
    b'"status":"queued","parameters":{"numbers":[1,2.5],"note":"x"},'
    b'"created_at":"2026-11-28T06:00:00Z","run_at":"2026-11-28T06:00:00Z"}'
)


def test_a_tasks_parameters_read_as_attributes_and_as_a_dict_and_do_not_change():
    parameters = TASK.validate_json(TASK_JSON).parameters
    assert parameters.numbers == [1, 2.5]
    assert parameters.to_dict() == {"numbers": [1, 2.5], "note": "x"}
    parameters.numbers.append(3)  # a fresh list each time it is read
    assert parameters.numbers == [1, 2.5]
    with pytest.raises(AttributeError, match="no field 'colour'"):
        _ = parameters.colour
    with pytest.raises(AttributeError):
        parameters.numbers = [4]


def test_a_task_read_back_is_written_out_as_it_came_and_copies_and_pickles():
    task = TASK.validate_json(TASK_JSON)
    assert TASK.validate_json(TASK.dump_json(task)) == task
    assert copy.deepcopy(task) == task
    assert pickle.loads(pickle.dumps(task)) == task  # noqa: S301 - our own bytes
    assert TASK.dump_python(task, mode="json")["parameters"] == {"numbers": [1, 2.5], "note": "x"}
