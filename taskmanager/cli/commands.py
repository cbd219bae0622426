"""The client commands: submit, status, ls, cancel, watch, schedules, pause, resume.

Each returns an exit status.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Final

from rich.console import Console

from taskmanager.actors.events import Event, Resync
from taskmanager.actors.model import Task
from taskmanager.actors.schedules import Schedule
from taskmanager.cli import display
from taskmanager.cli.exit_status import ExitStatus, of_task, reader_gone
from taskmanager.cli.ids import AmbiguousId, task_id_of
from taskmanager.cli.interrupt import CtrlC
from taskmanager.cli.params import ParameterError, field_kinds, parse_parameters
from taskmanager.client import (
    BadRequest,
    Client,
    Conflict,
    NotFound,
    ServiceUnavailable,
    TaskManagerError,
    Unreachable,
)
from taskmanager.client._protocol import EVENT, SCHEDULE, TASK

type Command = Callable[[argparse.Namespace, Client, "Output"], ExitStatus]

#: Rows the live table shows when the terminal's height is not known.
WATCH_ROWS: Final = 20


class Output:
    """Where the command writes: the result on stdout, progress and errors on stderr."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.out, self.err = display.consoles()

    def task(self, task: Task) -> None:
        """Print one task."""
        if self.as_json:
            self.line(TASK.dump_json(task).decode())
        else:
            self.out.print(display.task_view(task))

    def schedule(self, schedule: Schedule) -> None:
        """Print one schedule."""
        if self.as_json:
            self.line(SCHEDULE.dump_json(schedule).decode())
        else:
            self.out.print(display.schedules_table([schedule]))

    def error(self, command: str, detail: str) -> None:
        """Say on stderr why the command failed."""
        line = display.printable(f"taskmanager {command}: {detail}")
        self.err.print(line, markup=False, highlight=False)

    def line(self, text: str) -> None:
        """Print a line as it is (JSON), with no markup or wrapping."""
        sys.stdout.write(display.printable_json(text) + "\n")
        sys.stdout.flush()


def run(args: argparse.Namespace) -> ExitStatus:
    """Run one client command: its exit status; Ctrl-C ends the process (see ``CtrlC``)."""
    output = Output(as_json=args.json)
    command: Command = COMMANDS[args.command]
    try:
        client = Client(args.url, api_key=args.api_key)
    except ValueError as exc:  # a URL that is not http(s)
        output.error(args.command, str(exc))
        return ExitStatus.USAGE
    # Ctrl-C is how one stops watching; any other command it interrupts.
    interrupted = ExitStatus.OK if args.command == "watch" else ExitStatus.INTERRUPTED
    with CtrlC(interrupted) as ctrl_c:
        try:
            return _outcome(command, args, client, output)
        finally:
            if not ctrl_c.pressed:  # else closing might wait forever: see CtrlC
                client.close()


def _outcome(
    command: Command, args: argparse.Namespace, client: Client, output: Output
) -> ExitStatus:
    """Run the command; errors become a line on stderr and an exit status."""
    try:
        return command(args, client, output)
    except BrokenPipeError:
        return reader_gone()
    except (ParameterError, AmbiguousId) as exc:
        output.error(args.command, str(exc))
        return ExitStatus.USAGE
    except TaskManagerError as exc:
        output.error(args.command, exc.detail)
        return _status_of(exc)


def _status_of(exc: TaskManagerError) -> ExitStatus:
    match exc:
        case BadRequest():
            return ExitStatus.USAGE
        case NotFound():
            return ExitStatus.NOT_FOUND
        case Unreachable() | ServiceUnavailable():
            return ExitStatus.UNREACHABLE
        case _:
            return ExitStatus.FAILED


def submit(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """Submit a task; with ``--wait``, follow it to the end."""
    # The service's task types are read from its OpenAPI document: only when a parameter
    # is given, as only then does a field's kind matter.
    kinds = field_kinds(client.openapi(), args.task_type) if args.parameters else {}
    task = client.submit(
        args.task_type,
        parse_parameters(args.parameters, kinds),
        priority=args.priority,
        delay=args.delay,
        timeout=args.timeout,
        max_retries=args.retries,
        depends_on=[task_id_of(client, given) for given in args.after] or None,
    )
    if not args.wait:
        output.task(task)
        return ExitStatus.OK
    return _wait_and_show(client, task, output)


def status(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """Show a task; with ``--wait``, once it has finished."""
    task = client.get(task_id_of(client, args.task_id))
    if args.wait:
        return _wait_and_show(client, task, output)
    output.task(task)
    return of_task(task)


def _wait_and_show(client: Client, task: Task, output: Output) -> ExitStatus:
    """Follow the task to its end: a bar on a terminal, else a quiet long-poll; print it."""
    if not task.status.terminal:
        if display.live(output.err):
            task = display.show_progress(output.err, client.follow(task.task_id))
        else:
            task = client.wait(task.task_id)
    output.task(task)
    return of_task(task)


def list_tasks(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """List tasks; JSON lines with ``--json``, a table otherwise."""
    page_size = min(args.limit or 500, 500)
    tasks: Iterator[Task] = client.list(
        status=args.status,
        task_type=args.task_type,
        order="newest" if args.newest else "oldest",
        page_size=page_size,
    )
    if args.limit is not None:
        tasks = itertools.islice(tasks, args.limit)
    if output.as_json:
        for task in tasks:
            output.line(TASK.dump_json(task).decode())
    else:
        output.out.print(display.tasks_table(tasks))
    return ExitStatus.OK


def cancel(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """Cancel a task: 0 once cancelled, 1 when it had already finished."""
    try:
        task = client.cancel(task_id_of(client, args.task_id))
    except Conflict as exc:
        if exc.task is None:
            raise
        output.error("cancel", exc.detail)
        output.task(exc.task)
        return ExitStatus.FAILED
    output.task(task)
    return ExitStatus.OK


def watch(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:  # noqa: ARG001
    """Follow every change: a live table on a terminal, a line per event otherwise."""
    if output.as_json or not display.live(output.out):
        _watch_lines(client, output)
    else:
        _watch_table(client, output.out)
    return ExitStatus.OK  # the stream does not end: Ctrl-C does, with status 0 (run())


def _watch_lines(client: Client, output: Output) -> None:
    for item in client.events():
        if output.as_json:
            output.line(_event_json(item))
        else:
            output.out.print(display.event_line(item), highlight=False)


def _event_json(item: Event | Resync) -> str:
    if isinstance(item, Resync):
        return json.dumps({"kind": "resync"})
    return EVENT.dump_json(item).decode()


def _watch_table(client: Client, console: Console) -> None:
    rows = max(5, (console.height or WATCH_ROWS) - 6)
    table = display.WatchTable(rows)

    def snapshot() -> None:
        table.reset(list(itertools.islice(client.list(order="newest", page_size=rows), rows)))

    with client.subscribe() as subscription, display.watch_live(console, table):
        snapshot()  # subscribed first: no change falls between the snapshot and the stream
        for item in subscription:
            if isinstance(item, Resync):
                snapshot()
            else:
                table.apply(item)


def schedules(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """``schedules ls``, ``schedules put``, ``schedules rm``."""
    match args.schedules_command:
        case "put":
            kinds = field_kinds(client.openapi(), args.task_type) if args.parameters else {}
            output.schedule(
                client.put_schedule(
                    args.name,
                    args.task_type,
                    parse_parameters(args.parameters, kinds),
                    every=args.every,
                    cron=args.cron,
                    timezone=args.timezone,
                    priority=args.priority,
                    delay=args.delay,
                    timeout=args.timeout,
                    max_retries=args.retries,
                )
            )
        case "rm":
            output.schedule(client.delete_schedule(args.name))
        case _:
            found = client.schedules()
            if output.as_json:
                for schedule in found:
                    output.line(SCHEDULE.dump_json(schedule).decode())
            else:
                output.out.print(display.schedules_table(found))
    return ExitStatus.OK


def pause(args: argparse.Namespace, client: Client, output: Output) -> ExitStatus:
    """Pause (``pause``) or resume (``resume``) the queue; print whether it is paused."""
    paused = client.pause() if args.command == "pause" else client.resume()
    if output.as_json:
        output.line(json.dumps({"paused": paused}))
    else:
        output.out.print("the queue is paused" if paused else "the queue runs")
    return ExitStatus.OK


COMMANDS: Final[dict[str, Command]] = {
    "submit": submit,
    "status": status,
    "ls": list_tasks,
    "cancel": cancel,
    "watch": watch,
    "schedules": schedules,
    "pause": pause,
    "resume": pause,
}

__all__ = ["COMMANDS", "run"]
