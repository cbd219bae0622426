"""The ``taskmanager`` command's client commands, run in this process against a live server.

Standard output is not a terminal here, so ``--wait`` prints only the final task.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import pytest

from taskmanager.cli import main
from taskmanager.keys import file_line


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)

    def json_lines(self):
        return [json.loads(line) for line in self.out.splitlines()]


@pytest.fixture
def server(live_server):
    # A real clock, tasks a thousand times faster: 5 ms for a sum.
    return live_server(fake_clock=False, time_scale=0.001)


@pytest.fixture
def cli(capsys, server):
    def run(*argv: str, url: str | None = None) -> Result:
        with pytest.raises(SystemExit) as exited:
            main([argv[0], "--url", url or server.url, *argv[1:]])
        captured = capsys.readouterr()
        code = exited.value.code
        return Result(code if isinstance(code, int) else 1, captured.out, captured.err)

    return run


def test_submit_prints_the_queued_task(cli):
    result = cli("submit", "compute_sum", "numbers=1,2,3.5", "--priority", "3", "--delay", "60")
    assert result.status == 0
    assert "compute_sum" in result.out
    assert "queued" in result.out
    uuid.UUID(result.out.split()[1])  # "task <id> compute_sum"


def test_submit_json_is_the_task_with_its_parameters_and_options(cli):
    result = cli(
        "submit", "compute_sum", "numbers=1,2", "--json", "--delay", "60", "--retries", "2",
        "--timeout", "1.5",
    )  # fmt: skip
    task = result.json()
    assert task["parameters"] == {"numbers": [1, 2]}
    assert (task["max_retries"], task["timeout"], task["status"]) == (2, 1.5, "queued")


def test_submit_wait_without_a_terminal_prints_only_the_final_task(cli):
    result = cli("submit", "compute_sum", "numbers=1,2,3", "--wait", "--json")
    assert result.status == 0
    task = result.json()  # one JSON document: nothing else on stdout
    assert (task["status"], task["result"], task["progress"]) == ("completed", 6, 1.0)
    assert result.err == ""


def test_submit_wait_prints_the_result_for_a_person(cli):
    result = cli("submit", "generate_report", "title=Q4 figures", "sections=2", "--wait")
    assert result.status == 0
    assert "completed" in result.out
    assert "# Q4 figures" in result.out
    assert "## Section 2 of 2" in result.out
    assert "\x1b[" not in result.out  # no terminal: no colours


def test_a_failed_task_exits_1_with_its_error(cli):
    result = cli("submit", "simulate_error", "error=timeout", "--wait")
    assert result.status == 1
    assert "failed" in result.out
    assert "timeout: simulated failure" in result.out


def test_status_of_a_cancelled_task_exits_4_and_cancel_exits_0(cli):
    task_id = cli("submit", "compute_sum", "numbers=1", "--delay", "60", "--json").json()["task_id"]
    cancelled = cli("cancel", task_id)
    assert cancelled.status == 0
    assert "cancelled" in cancelled.out
    assert cli("status", task_id).status == 4
    assert cli("status", task_id, "--wait", "--json").json()["status"] == "cancelled"


def test_cancelling_a_finished_task_exits_1_and_says_so(cli):
    task_id = cli("submit", "compute_sum", "numbers=1", "--wait", "--json").json()["task_id"]
    result = cli("cancel", task_id)
    assert result.status == 1
    assert "already completed" in result.err
    assert "completed" in result.out


def test_status_shows_a_task_and_waits_for_it(cli):
    task_id = cli("submit", "compute_sum", "numbers=4,5", "--json").json()["task_id"]
    waited = cli("status", task_id, "--wait", "--json")
    assert waited.status == 0
    assert waited.json()["result"] == 9
    shown = cli("status", task_id)
    assert task_id in shown.out
    assert "result    9" in shown.out


def test_submit_after_tasks_shows_what_it_waits_for(cli):
    first = cli("submit", "compute_sum", "numbers=1", "--delay", "60", "--json").json()["task_id"]
    second = cli("submit", "compute_sum", "numbers=2", "--delay", "60", "--json").json()["task_id"]
    result = cli("submit", "compute_sum", "numbers=3", "--after", first, "--after", second[:8])
    assert result.status == 0, result.err
    assert f"depends on  {first}\n            {second}" in result.out
    assert f"waiting for {first}\n            {second}" in result.out
    assert "queued, waiting for 2" in result.out
    listed = cli("ls")
    assert listed.out.count("queued, waiting for 2") == 1
    assert listed.out.count("queued") == 3


def test_submit_after_a_task_that_completes_runs_and_shows_no_wait(cli):
    first = cli("submit", "compute_sum", "numbers=1,2", "--json").json()["task_id"]
    result = cli("submit", "compute_sum", "numbers=3", "--after", first, "--wait")
    assert result.status == 0, result.err
    assert "completed" in result.out
    assert f"depends on  {first}" in result.out
    assert "waiting for" not in result.out


def test_a_task_after_a_cancelled_one_is_cancelled_and_says_why(cli):
    first = cli("submit", "compute_sum", "numbers=1", "--delay", "60", "--json").json()["task_id"]
    waiting = cli("submit", "compute_sum", "numbers=2", "--after", first, "--json").json()
    assert waiting["depends_on"] == waiting["waiting_for"] == [first]
    cli("cancel", first)
    shown = cli("status", waiting["task_id"])
    assert shown.status == 4
    assert f"error       dependency {first} cancelled, so this task did not run" in shown.out
    assert "waiting for" not in shown.out


@pytest.mark.parametrize(
    ("after", "message"),
    [
        (str(uuid.UUID(int=7)), f"depends_on: task {uuid.UUID(int=7)} not found"),
        ("zz", "depends_on.0"),
    ],
)
def test_submit_after_a_task_that_is_not_there_exits_2_with_the_reason(cli, after, message):
    result = cli("submit", "compute_sum", "numbers=1", "--after", after)
    assert result.status == 2
    assert message in result.err


def test_submit_help_explains_after(capsys):
    with pytest.raises(SystemExit):
        main(["submit", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--after ID" in help_text
    assert "start only once task ID has completed" in help_text


# What a terminal would obey: C0 controls (escape, bell, carriage return...), DEL and C1.
CONTROL = {chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n"}
HOSTILE = "\x1b]0;owned\x07 \x1b[31mred \x9b2J \x7f\r"


def hostile_results(app):
    """The app, but every task it answers with carries escape sequences in its result and error.

    As a service with an older or looser task type (or a hostile one) could send them.
    """

    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/tasks"):
            await app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def rewrite(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = json.loads(b"".join(chunks))
            for task in body if isinstance(body, list) else [body]:
                task["result"] = f"{HOSTILE} {task['result']}"
                task["error"] = {"type": "crash", "message": HOSTILE}
            data = json.dumps(body).encode()
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", b"%d" % len(data))]})
            await send({"type": "http.response.body", "body": data})

        await app(scope, receive, rewrite)

    return wrapped


@pytest.mark.parametrize(
    "argv", [("status",), ("status", "--json"), ("ls", "--json")], ids=" ".join
)
def test_no_control_character_from_task_data_reaches_the_output(live_server, cli, argv):
    server = live_server(fake_clock=False, time_scale=0.001, wrap=hostile_results)
    submitted = cli("submit", "compute_sum", "numbers=1,2", "--json", url=server.url).json()
    args = [argv[0], submitted["task_id"]] if argv[0] == "status" else [argv[0]]
    result = cli(*args, *argv[1:], url=server.url)
    assert "owned" in result.out
    assert not CONTROL & set(result.out + result.err)
    if "--json" in argv:
        shown = result.json() if argv[0] == "status" else result.json_lines()[0]
        assert shown["error"]["message"] == HOSTILE  # escaped as JSON allows, not altered


def test_an_unknown_task_exits_3(cli):
    result = cli("status", str(uuid.uuid4()))
    assert result.status == 3
    assert "not found" in result.err
    assert cli("cancel", str(uuid.uuid4())).status == 3


def test_status_and_cancel_take_the_short_id_the_monitor_and_the_bar_show(cli):
    task_id = cli("submit", "compute_sum", "numbers=1", "--delay", "60", "--json").json()["task_id"]
    cli("submit", "compute_sum", "numbers=2", "--delay", "60")  # another task, another id
    short = task_id[:8]

    shown = cli("status", short, "--json")
    assert shown.status == 0, shown.err
    assert shown.json()["task_id"] == task_id
    cancelled = cli("cancel", short.upper())
    assert cancelled.status == 0, cancelled.err
    assert task_id in cancelled.out
    assert cli("status", task_id[:13], "--wait", "--json").json()["status"] == "cancelled"


def test_a_prefix_of_no_task_exits_3_and_says_so(cli):
    ids = [cli("submit", "compute_sum", "numbers=1", "--json").json()["task_id"] for _ in range(2)]
    unknown = next(
        p for p in (f"{n:08x}" for n in range(16**8)) if not any(i.startswith(p) for i in ids)
    )
    for command in ("status", "cancel"):
        result = cli(command, unknown)
        assert result.status == 3
        assert f"no task's id starts with {unknown}" in result.err


def test_a_prefix_of_several_tasks_exits_2_and_names_them(cli):
    # Seventeen ids: at least two share their first hex digit.
    ids = [
        cli("submit", "compute_sum", f"numbers={n}", "--delay", "60", "--json").json()["task_id"]
        for n in range(17)
    ]
    digit = next(d for d in "0123456789abcdef" if sum(i.startswith(d) for i in ids) > 1)
    sharing = [i for i in ids if i.startswith(digit)]
    for command in ("status", "cancel"):
        result = cli(command, digit)
        assert result.status == 2
        assert "more than one task" in result.err
        assert sum(i[:8] in result.err for i in sharing) >= 2
    assert cli("status", sharing[0], "--json").json()["status"] == "queued"  # nothing cancelled


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("submit", "compute_sum", "numbers=one,2"), "parameters.numbers.0"),
        (("submit", "compute_sum", "numbers"), "expected name=value"),
        (("submit", "compute_sum", "numbers=1", "numbers=2"), "given twice"),
        (("submit", "no_such_type"), "task_type"),
        (("status", "not-an-id"), "task_id"),
    ],
)
def test_wrong_input_exits_2_with_the_reason(cli, argv, message):
    result = cli(*argv)
    assert result.status == 2
    assert message in result.err


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "http://[::1", "localhost:8000"])
def test_a_url_that_is_not_http_exits_2(cli, url):
    result = cli("ls", url=url)
    assert result.status == 2
    assert "URL" in result.err


def test_a_command_line_argparse_refuses_exits_2(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["ls", "--limit", "0"])
    assert exited.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_an_unreachable_service_exits_5_after_trying_again_three_times(cli, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    result = cli("ls", url="http://127.0.0.1:9")
    assert result.status == 5
    assert "no answer from http://127.0.0.1:9" in result.err
    assert slept == [0.25, 0.5, 1.0]


def test_ls_lists_filters_orders_and_limits(cli):
    ids = [
        cli("submit", "compute_sum", f"numbers={n}", "--delay", "60", "--json").json()["task_id"]
        for n in range(3)
    ]
    cli("submit", "generate_report", "title=t", "--delay", "60")
    table = cli("ls", "--type", "compute_sum")
    assert table.status == 0
    assert table.out.splitlines()[0].split()[:3] == ["ID", "TYPE", "STATUS"]
    assert [line.split()[0] for line in table.out.splitlines()[2:]] == ids
    newest = cli("ls", "--type", "compute_sum", "--newest", "--limit", "2", "--json")
    assert [task["task_id"] for task in newest.json_lines()] == ids[::-1][:2]
    assert cli("ls", "--status", "completed", "--json").out == ""


def test_the_url_comes_from_the_environment(cli, capsys, server, monkeypatch):
    task_id = cli("submit", "compute_sum", "numbers=1", "--json").json()["task_id"]
    monkeypatch.setenv("TASKMANAGER_URL", server.url)
    with pytest.raises(SystemExit) as exited:
        main(["ls", "--json"])
    assert exited.value.code == 0
    assert [task["task_id"] for task in Result(0, capsys.readouterr().out, "").json_lines()] == [
        task_id
    ]


def test_client_options_go_before_the_command_too_and_the_last_place_wins(cli, capsys, server):
    task_id = cli("submit", "compute_sum", "numbers=1", "--json").json()["task_id"]
    with pytest.raises(SystemExit) as exited:
        main(["--url", server.url, "--json", "status", task_id])
    assert exited.value.code == 0
    assert json.loads(capsys.readouterr().out)["task_id"] == task_id
    with pytest.raises(SystemExit) as exited:
        main(["--url", "http://127.0.0.1:9", "ls", "--url", server.url, "--json"])
    assert exited.value.code == 0
    assert task_id in capsys.readouterr().out


def test_keys_new_prints_the_key_once_and_the_line_for_the_keys_file(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["keys", "new", "alice", "--json"])
    assert exited.value.code == 0
    made = json.loads(capsys.readouterr().out)
    assert made["key"].startswith("tm_")
    assert made["role"] == "client"
    assert made["line"] == f"alice client {hashlib.sha256(made['key'].encode()).hexdigest()}"
    with pytest.raises(SystemExit):
        main(["keys", "new", "root", "--admin"])
    text = capsys.readouterr().out
    key = next(word for word in text.split() if word.startswith("tm_"))
    assert file_line("root", "admin", key) in text
    assert text.count(key) == 1  # shown once; the file line holds only its hash


def test_keys_new_refuses_a_bad_name_with_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["keys", "new", "no spaces please"])
    assert exited.value.code == 2
    assert "name" in capsys.readouterr().err


def test_a_key_made_by_keys_new_opens_a_service_that_needs_keys(
    capsys, live_server, tmp_path, monkeypatch
):
    with pytest.raises(SystemExit):
        main(["keys", "new", "ci", "--json"])
    made = json.loads(capsys.readouterr().out)
    keys_file = tmp_path / "keys"
    keys_file.write_text(made["line"] + "\n")
    server = live_server(fake_clock=False, time_scale=0.001, api_keys_file=keys_file)

    with pytest.raises(SystemExit) as refused:
        main(["ls", "--url", server.url])
    assert refused.value.code == 1
    assert "Bearer" in capsys.readouterr().err

    monkeypatch.setenv("TASKMANAGER_API_KEY", made["key"])
    with pytest.raises(SystemExit) as admitted:
        main(["submit", "compute_sum", "numbers=2,2", "--wait", "--json", "--url", server.url])
    assert admitted.value.code == 0
    assert json.loads(capsys.readouterr().out)["result"] == 4


def test_a_start_of_another_keys_task_is_no_task(capsys, live_server, tmp_path):
    keys = {name: f"tm_{name}_{uuid.uuid4().hex}" for name in ("alice", "bob")}
    keys_file = tmp_path / "keys"
    keys_file.write_text("".join(file_line(n, "client", k) + "\n" for n, k in keys.items()))
    server = live_server(fake_clock=False, time_scale=0.001, api_keys_file=keys_file)

    def run(*argv: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--url", server.url, "--json"])
        code = exited.value.code
        return (code if isinstance(code, int) else 1), capsys.readouterr().out

    _, out = run("submit", "compute_sum", "numbers=1", "--delay", "60", "--api-key", keys["alice"])
    short = json.loads(out)["task_id"][:8]
    assert run("status", short, "--api-key", keys["bob"])[0] == 3
    assert run("cancel", short, "--api-key", keys["bob"])[0] == 3
    assert run("status", short, "--api-key", keys["alice"])[0] == 0


def test_submit_reads_a_user_types_fields_from_the_services_openapi(capsys, live_server):
    server = live_server(
        fake_clock=False, time_scale=0.001, tasks="taskmanager.demo,jobmodules.usertypes"
    )
    parameters = ["text=1,2", "times=2", "tags=a,b"]
    with pytest.raises(SystemExit) as exited:
        main(["submit", "--url", server.url, "repeat", *parameters, "--wait", "--json"])
    captured = capsys.readouterr()
    assert exited.value.code == 0, captured.err
    task = json.loads(captured.out)
    # A text field keeps its commas, a list field splits on them, a number is a number.
    assert task["parameters"] == {"text": "1,2", "times": 2, "tags": ["a", "b"]}
    assert task["result"] == ["1,2", "1,2", "a", "b"]


def test_schedules_put_ls_and_rm(cli):
    made = cli("schedules", "put", "tick", "compute_sum", "numbers=1,2", "--every", "60", "--json")
    assert made.status == 0, made.err
    assert made.json()["every"] == 60
    assert made.json()["parameters"] == {"numbers": [1, 2]}
    cron = cli(
        "schedules", "put", "morning", "generate_report", "title=Daily", "--cron", "30 6 * * 1-5",
        "--timezone", "Europe/Paris", "--priority", "5",
    )  # fmt: skip
    assert cron.status == 0, cron.err
    assert "morning" in cron.out
    assert "Europe/Paris" in cron.out
    listed = cli("schedules", "ls")
    assert listed.out.index("morning") < listed.out.index("tick")
    assert "every 60 s" in listed.out
    assert [s["name"] for s in cli("schedules", "ls", "--json").json_lines()] == ["morning", "tick"]
    assert cli("schedules", "rm", "tick").status == 0
    assert cli("schedules", "rm", "tick").status == 3  # not found
    assert [s["name"] for s in cli("schedules", "ls", "--json").json_lines()] == ["morning"]


def test_schedules_put_with_a_bad_cron_is_a_usage_error_naming_the_field(cli):
    result = cli("schedules", "put", "bad", "compute_sum", "numbers=1", "--cron", "61 * * * *")
    assert result.status == 2
    assert "cron:" in result.err


def test_pause_and_resume(cli):
    paused = cli("pause")
    assert paused.status == 0
    assert "paused" in paused.out
    assert cli("resume", "--json").json() == {"paused": False}
