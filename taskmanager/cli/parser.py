"""The command line's grammar. Imports nothing heavy: ``serve`` must start without httpx."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final

DEFAULT_URL: Final = "http://127.0.0.1:8000"
STATUSES: Final = ("queued", "processing", "completed", "failed", "cancelled")
#: The subcommands that talk to a running service.
CLIENT_COMMANDS: Final = frozenset(
    {"submit", "status", "ls", "cancel", "watch", "schedules", "pause", "resume"}
)

ID_HELP: Final = (
    "the task's id, or its start (the 8 digits the monitor shows) if no other id starts so"
)

EPILOG = """\
exit status: 0 done (a task completed), 1 the task failed or the request was refused,
2 usage, 3 not found, 4 the task was cancelled, 5 the service is unreachable.
"""


def _add_serve_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Given at both levels, the subcommand's own would overwrite the top level's with
    # its defaults: only the top level has them.
    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--host", default=default("127.0.0.1"), help="address to bind")
    parser.add_argument("--port", type=int, default=default(8000), help="port to bind")
    parser.add_argument(
        "--reload",
        action="store_true",
        default=default(False),  # noqa: FBT003 - argparse's default
        help="restart when the code changes",
    )


def _add_client_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, defaults: bool
) -> None:
    """The options every client command takes, before the command or after it.

    As with the serve options, only the top level has the defaults, so that a subcommand
    does not overwrite what was given before it.
    """

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--url",
        default=default(os.environ.get("TASKMANAGER_URL") or DEFAULT_URL),
        help=f"the service (default: $TASKMANAGER_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=default(os.environ.get("TASKMANAGER_API_KEY") or None),
        help="API key (default: $TASKMANAGER_API_KEY; the variable keeps it out of `ps`)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default(False),  # noqa: FBT003 - argparse's default
        help="machine-readable output (JSON; JSON lines for streams)",
    )


def _client_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_client_options(common, defaults=False)
    return common


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priority", type=int, help="0 to 9; higher runs first")
    parser.add_argument("--delay", type=float, help="seconds before it may start")
    parser.add_argument("--timeout", type=float, help="seconds an attempt may run")
    parser.add_argument("--retries", type=int, help="attempts after a retryable failure")


def _add_schedules(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    schedules = commands.add_parser(
        "schedules", parents=[common], help="tasks submitted at due times (ls, put, rm)"
    )
    actions = schedules.add_subparsers(dest="schedules_command", metavar="COMMAND", required=True)
    actions.add_parser("ls", parents=[common], help="list the schedules, with their next run")
    put = actions.add_parser(
        "put",
        parents=[common],
        help="create or replace a schedule",
        description="Create or replace a schedule: a task every N seconds (--every) or at a "
        "five-field cron expression (--cron, read in --timezone, default UTC). Parameters "
        "as for submit.",
    )
    put.add_argument("name", metavar="NAME", help="1 to 100 of a-z 0-9 _ -")
    put.add_argument("task_type", metavar="TYPE", help="compute_sum, generate_report, ...")
    put.add_argument("parameters", metavar="name=value", nargs="*", help="the parameters")
    when = put.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", type=int, metavar="SECONDS", help="1 to 86400")
    when.add_argument("--cron", metavar="EXPR", help="e.g. '30 6 * * 1-5'")
    put.add_argument("--timezone", metavar="ZONE", help="IANA name, e.g. Europe/Paris")
    _job_options(put)
    remove = actions.add_parser("rm", parents=[common], help="delete a schedule")
    remove.add_argument("name", metavar="NAME")


def _wait_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        action="store_true",
        help="wait until the task finishes (a live progress bar on a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    """``taskmanager [serve options] | taskmanager COMMAND ...``."""
    parser = argparse.ArgumentParser(
        prog="taskmanager",
        description="Task Manager: serve the API (the default), or use a running service.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_serve_options(parser, defaults=True)
    _add_client_options(
        parser.add_argument_group("client options (also after the command)"), defaults=True
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _client_options()

    serve = commands.add_parser("serve", help="serve the API (the default with no command)")
    _add_serve_options(serve, defaults=False)

    worker = commands.add_parser(
        "worker",
        help="run workers and no HTTP server (needs TASKMANAGER_REDIS_URL)",
        description="Run TASKMANAGER_WORKERS workers on the tasks in Redis, serving no "
        "HTTP; API replicas with TASKMANAGER_WORKERS=0 leave the tasks to such processes.",
    )
    worker.add_argument(
        "--health-file",
        type=Path,
        metavar="PATH",
        help="touch PATH while healthy (check: python -m taskmanager.healthfile PATH)",
    )

    submit = commands.add_parser(
        "submit",
        parents=[common],
        help="submit a task",
        description="Submit a task. Parameters are name=value; a list is comma-separated "
        "(numbers=1,2,3); JSON values are read as JSON (sections=2).",
    )
    submit.add_argument("task_type", metavar="TYPE", help="compute_sum, generate_report, ...")
    submit.add_argument("parameters", metavar="name=value", nargs="*", help="the parameters")
    _job_options(submit)
    submit.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID",
        help="start only once task ID has completed; if it fails or is cancelled, this task "
        "is cancelled too. Repeat for several tasks. ID is a task id or its start",
    )
    _wait_flag(submit)

    status = commands.add_parser("status", parents=[common], help="show a task")
    status.add_argument("task_id", metavar="ID", help=ID_HELP)
    _wait_flag(status)

    listing = commands.add_parser("ls", parents=[common], help="list tasks, oldest first")
    listing.add_argument("--status", choices=STATUSES, help="only tasks in this status")
    listing.add_argument("--type", dest="task_type", metavar="TYPE", help="only this task type")
    listing.add_argument("--newest", action="store_true", help="newest first")
    listing.add_argument("--limit", type=_positive, metavar="N", help="at most N tasks")

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a task")
    cancel.add_argument("task_id", metavar="ID", help=ID_HELP)

    commands.add_parser(
        "watch", parents=[common], help="a live table of the tasks, from the event stream"
    )

    _add_schedules(commands, common)
    commands.add_parser(
        "pause", parents=[common], help="pause the queue: no task starts (admin key)"
    )
    commands.add_parser("resume", parents=[common], help="resume the queue (admin key)")

    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    new = key_commands.add_parser(
        "new", help="make a key: print it once, and the line for the keys file"
    )
    new.add_argument("name", metavar="NAME", help="who holds the key (owns its tasks)")
    new.add_argument("--admin", action="store_true", help="sees every task and the metrics")
    new.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
