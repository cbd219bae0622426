"""The user's own task types over HTTP: validation, the OpenAPI document, listing."""

from __future__ import annotations

import pytest
from support import settle

USER_TASKS = "taskmanager.demo,jobmodules.usertypes"
REPEAT = {"task_type": "repeat", "parameters": {"text": "ab", "times": 2}}


@pytest.fixture
async def user_client(make_client):
    return await make_client(tasks=USER_TASKS)


@pytest.mark.backends("memory", "redis")
async def test_a_user_type_is_submitted_run_and_read_back_as_submitted(user_client):
    submitted = await user_client.post("/tasks", json=REPEAT)
    assert submitted.status_code == 202, submitted.text
    await settle()
    task = (await user_client.get(submitted.headers["location"])).json()
    assert task["task_type"] == "repeat"
    assert task["parameters"] == {"text": "ab", "times": 2, "tags": []}
    assert task["status"] == "completed"
    assert task["result"] == ["ab", "ab"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_type": "repeat", "parameters": {"text": "a", "times": 0}}, "parameters.times"),
        ({"task_type": "repeat", "parameters": {}}, "parameters.text"),
        ({"task_type": "repeat", "parameters": {"text": "a", "colour": "red"}}, "parameters"),
    ],
)
async def test_bad_parameters_of_a_user_type_are_a_400_naming_the_field(user_client, body, field):
    answer = await user_client.post("/tasks", json=body)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(f"{field}:")


async def test_an_unknown_parameter_is_named(user_client):
    body = {"task_type": "repeat", "parameters": {"text": "a", "colour": "red"}}
    answer = await user_client.post("/tasks", json=body)
    assert "unknown parameter 'colour'" in answer.json()["detail"]


async def test_a_type_of_a_module_not_named_does_not_exist(client):
    answer = await client.post("/tasks", json=REPEAT)
    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail.startswith("task_type: unknown task type 'repeat'")
    assert "compute_sum, generate_report, simulate_error" in detail


async def test_the_openapi_has_one_request_schema_per_type_with_its_example_and_docstring(
    user_client,
):
    schema = (await user_client.get("/openapi.json")).json()
    schemas = schema["components"]["schemas"]
    body = schemas["TaskRequest"]
    assert body["discriminator"]["propertyName"] == "task_type"
    assert set(body["discriminator"]["mapping"]) == {
        "compute_sum",
        "generate_report",
        "simulate_error",
        "gated",
        "flaky",
        "not_json",
        "repeat",
        "count",
        "gather",
        "gather_in_process",
    }
    repeat = schemas["RepeatRequest"]
    assert repeat["description"] == "The text, ``times`` times."
    parameters = schemas[repeat["properties"]["parameters"]["$ref"].rpartition("/")[2]]
    assert set(parameters["properties"]) == {"text", "times", "tags"}
    assert parameters["required"] == ["text"]
    assert repeat["examples"] == [
        {"task_type": "repeat", "parameters": {"text": "hello", "times": 3}}
    ]
    assert schemas["TaskType"]["enum"][:3] == ["compute_sum", "generate_report", "simulate_error"]
    assert "repeat" in schemas["TaskType"]["enum"]

    examples = schema["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ]
    assert examples["compute_sum"]["value"] == {
        "task_type": "compute_sum",
        "parameters": {"numbers": [1, 2, 3.5]},
    }
    assert examples["repeat"] == {
        "summary": "The text, ``times`` times",
        "value": {"task_type": "repeat", "parameters": {"text": "hello", "times": 3}},
    }


async def test_only_one_type_still_makes_a_body_discriminated_by_task_type(make_client):
    client = await make_client(tasks="jobmodules.usertypes")
    schema = (await client.get("/openapi.json")).json()
    schemas = schema["components"]["schemas"]
    assert "ComputeSumRequest" not in schemas
    only = await make_client(tasks="jobmodules.same_name")  # one type: compute_sum
    body = (await only.get("/openapi.json")).json()["components"]["schemas"]["TaskRequest"]
    assert body == {
        "oneOf": [{"$ref": "#/components/schemas/ComputeSumRequest"}],
        "discriminator": {
            "propertyName": "task_type",
            "mapping": {"compute_sum": "#/components/schemas/ComputeSumRequest"},
        },
    }
    missing = await client.post("/tasks", json={"parameters": {}})
    assert missing.status_code == 400
    assert missing.json()["detail"].startswith("task_type: field required, one of gated, flaky")


async def test_listing_by_a_task_type_that_does_not_exist_is_a_400(user_client):
    assert (await user_client.get("/tasks?task_type=repeat")).status_code == 200
    answer = await user_client.get("/tasks?task_type=nope")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("task_type: unknown task type 'nope'")


KINDS = "taskmanager.demo,jobmodules.parameterkinds"


@pytest.mark.backends("memory", "redis")
async def test_a_job_that_changes_its_parameters_leaves_the_record_as_submitted(make_client):
    client = await make_client(tasks=KINDS)
    body = {"task_type": "tally", "parameters": {"marks": [7]}}
    submitted = await client.post("/tasks", json=body)
    assert submitted.status_code == 202, submitted.text
    await settle()
    task = (await client.get(submitted.headers["location"])).json()
    assert task["status"] == "completed"
    assert task["result"] == [7, 1]
    assert task["parameters"] == {"marks": [7]}


@pytest.mark.backends("memory", "redis")
async def test_parameters_by_alias_come_back_as_sent_and_the_job_gets_its_model(make_client):
    client = await make_client(tasks=KINDS)
    body = {"task_type": "greet", "parameters": {"firstName": "Ada"}}
    submitted = await client.post("/tasks", json=body)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["parameters"] == {"firstName": "Ada"}
    await settle()
    task = (await client.get(submitted.headers["location"])).json()
    assert (task["status"], task["result"]) == ("completed", "hello Ada"), task
    assert task["parameters"] == {"firstName": "Ada"}
