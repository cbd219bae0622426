"""What the command shows a person: tasks, tables, the progress bar and the live table.

Built on rich; a terminal gets colour and live updates, a pipe gets plain text.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Final
from uuid import UUID

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from taskmanager.actors.events import Event, Resync
from taskmanager.actors.model import Task, TaskError, TaskStatus
from taskmanager.actors.schedules import Schedule

STATUS_STYLE: Final = {
    TaskStatus.QUEUED: "dim",
    TaskStatus.PROCESSING: "cyan",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "red",
    TaskStatus.CANCELLED: "yellow",
}
#: Width a console that is not a terminal pretends to have, so tables keep whole ids.
PIPE_WIDTH: Final = 160


# Every control character but the newline: C0 (escape, bell, carriage return...), DEL and
# C1 (0x9b is an escape sequence's start to many terminals). Rich passes most of them on.
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# In JSON, C0 is escaped already; DEL and C1 are not.
_JSON_UNESCAPED: Final = re.compile(r"[\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` with each control character shown as an escape (``\x1b``), never sent raw.

    Task data comes from the service, and through it from whoever submitted the task: a
    terminal must not obey what it contains.
    """
    return _CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", text)


def printable_json(text: str) -> str:
    r"""JSON text with DEL and C1 characters escaped (``\u009b``): the same data, safe to print."""
    return _JSON_UNESCAPED.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def consoles() -> tuple[Console, Console]:
    """The consoles for standard output and standard error."""
    out, err = Console(), Console(stderr=True)
    for console in (out, err):
        if not console.is_terminal:
            console.width = max(console.width, PIPE_WIDTH)
    return out, err


def live(console: Console) -> bool:
    """Whether ``console`` is a terminal that can redraw in place."""
    return console.is_terminal and not console.is_dumb_terminal


def waiting(task: Task) -> bool:
    """Whether the task is queued only until the tasks it depends on complete."""
    return task.status is TaskStatus.QUEUED and bool(task.waiting_for)


def status_text(task: Task) -> Text:
    """The task's status, coloured; a task that waits for others says for how many."""
    text = str(task.status)
    if waiting(task):
        text += f", waiting for {len(task.waiting_for)}"
    return Text(text, style=STATUS_STYLE[task.status])


def attempts_text(task: Task) -> str:
    """``attempt 1 of 3``; empty before the first attempt."""
    if task.attempts == 0:
        return ""
    return f"attempt {task.attempts} of {task.max_retries + 1}"


def state_text(task: Task) -> str:
    """What the task is doing, for the progress bar: status, attempt, why it retries."""
    text = str(status_text(task))
    if task.attempts:
        text += f", attempt {task.attempts}/{task.max_retries + 1}"
    if task.status is TaskStatus.QUEUED and task.error is not None:
        text += f", retrying after {printable(task.error.type)}"
    return text


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def error_text(error: TaskError) -> str:
    """Why the task failed, as a person reads it."""
    if error.type == "dependency_failed":
        # The message names the dependency and how it ended; the type adds nothing to it.
        return printable(f"{error.message}, so this task did not run")
    return printable(f"{error.type}: {error.message}")


def task_view(task: Task) -> Text:
    """One task: what it is, where it is, what it waits for, and its result or error."""
    lines: list[Text] = []
    # The labels of a task with dependencies are longer ("waiting for"): its rows are wider.
    width = 12 if task.depends_on else 10

    def row(name: str, value: str | Text) -> None:
        text = Text(printable(value)) if isinstance(value, str) else value
        for number, part in enumerate(text.split("\n", allow_blank=True)):
            label = (f"{name:<{width}}", "bold") if number == 0 else " " * width
            lines.append(Text.assemble(label, part))

    row("task", f"{task.task_id}  {task.task_type}")
    status = status_text(task)
    if task.attempts:
        status.append(f"  ({attempts_text(task)})", style="default")
    row("status", status)
    row("progress", f"{task.progress:.0%}")
    row("created", _when(task.created_at))
    if task.depends_on:
        row("depends on", "\n".join(map(str, task.depends_on)))
    if waiting(task):
        row("waiting for", "\n".join(map(str, task.waiting_for)))
    if task.schedule is not None:
        row("schedule", task.schedule)
    if task.started_at is not None:
        row("started", _when(task.started_at))
    if task.finished_at is not None:
        row("finished", _when(task.finished_at))
    if task.error is not None:
        row("error", Text(error_text(task.error), style="red"))
    if task.status is TaskStatus.COMPLETED:
        result = task.result
        row("result", (result if isinstance(result, str) else json.dumps(result)).rstrip("\n"))
    return Text("\n").join(lines)


def tasks_table(tasks: Iterable[Task]) -> Table:
    """Tasks as a table, one row each."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("PROGRESS", justify="right", no_wrap=True)
    table.add_column("ATTEMPTS", justify="right", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    for task in tasks:
        table.add_row(
            str(task.task_id),
            str(task.task_type),
            status_text(task),
            f"{task.progress:.0%}",
            f"{task.attempts}/{task.max_retries + 1}",
            _when(task.created_at),
        )
    return table


def schedules_table(schedules: Iterable[Schedule]) -> Table:
    """Schedules as a table, one row each, with when each runs next."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("NAME", "TYPE", "WHEN", "NEXT RUN", "LAST TASK"):
        table.add_column(column, no_wrap=True)
    for schedule in schedules:
        when = (
            f"every {schedule.every} s"
            if schedule.every is not None
            else f"{schedule.cron} ({schedule.timezone})"
        )
        table.add_row(
            schedule.name,
            str(schedule.task_type),
            when,
            _when(schedule.next_run_at),
            str(schedule.last_task_id or "-"),
        )
    return table


def show_progress(console: Console, updates: Iterator[Task]) -> Task:
    """Draw a progress bar for the task while ``updates`` brings its changes; the last one."""
    first = next(updates)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TaskProgressColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(compact=True),
        TextColumn("{task.fields[state]}"),
        console=console,
        refresh_per_second=10,
    )
    with progress:
        bar = progress.add_task(
            escape(f"{first.task_type} {str(first.task_id)[:8]}"),
            total=100,
            completed=round(first.progress * 100),
            state=state_text(first),
        )
        attempts, done, last = first.attempts, first.progress, first
        for task in _chain(first, updates):
            # Within an attempt progress only grows: an event read after a fresher
            # snapshot must not move the bar back. A new attempt starts over.
            done = task.progress if task.attempts != attempts else max(done, task.progress)
            attempts = task.attempts
            progress.update(bar, completed=done * 100, state=state_text(task))
            last = task
    return last


def _chain(first: Task, rest: Iterator[Task]) -> Iterator[Task]:
    yield first
    yield from rest


def event_line(item: Event | Resync) -> Text:
    """One event as a line of text, for a log that is not a terminal."""
    stamp = time.strftime("%H:%M:%S")
    if isinstance(item, Resync):
        return Text(f"{stamp} resync (changes were missed; the table is reloaded)")
    line = Text(f"{stamp} {item.kind:<9} {item.task_id}")
    if item.task is not None:
        line.append(f" {item.task.task_type} ")
        line.append_text(status_text(item.task))
        line.append(f" {item.task.progress:.0%}")
    return line


class WatchTable:
    """The newest tasks as a live table: a snapshot, then every change from the stream.

    Each change builds a new tuple of rows; rich's refresh thread only reads the newest
    tuple, so nothing is shared while being changed.
    """

    def __init__(self, rows: int) -> None:
        self.size = rows
        self._tasks: dict[UUID, Task] = {}
        self.rows: tuple[Task, ...] = ()
        self.events = 0
        self.last = ""

    def reset(self, tasks: Sequence[Task]) -> None:
        """Start over from a snapshot (newest first)."""
        self._tasks = {task.task_id: task for task in tasks[: self.size]}
        self._publish()

    def apply(self, event: Event) -> None:
        """Show one change."""
        self.events += 1
        self.last = f"{event.kind} {str(event.task_id)[:8]}"
        released = False
        if event.kind == "completed":
            # The stream does not announce that the tasks waiting for it wait no more.
            for task_id, task in self._tasks.items():
                if event.task_id in task.waiting_for:
                    self._tasks[task_id] = _released(task, event.task_id)
                    released = True
        if event.task is None:
            self._tasks.pop(event.task_id, None)
        elif event.task_id in self._tasks or event.kind == "submitted":
            self._tasks[event.task_id] = event.task
        elif not released:
            return
        self._publish()

    def _publish(self) -> None:
        newest = sorted(self._tasks.values(), key=lambda task: task.created_at, reverse=True)
        self._tasks = {task.task_id: task for task in newest[: self.size]}
        self.rows = tuple(self._tasks.values())

    def render(self) -> RenderableType:
        """The table as it is now."""
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
        table.add_column("ID", no_wrap=True)
        table.add_column("TYPE", no_wrap=True)
        table.add_column("STATUS", no_wrap=True)
        table.add_column("PROGRESS", no_wrap=True, ratio=1)
        table.add_column("", justify="right", no_wrap=True)
        table.add_column("ATTEMPT", justify="right", no_wrap=True)
        for task in self.rows:
            bar = ProgressBar(total=1.0, completed=task.progress, width=None)
            table.add_row(
                str(task.task_id)[:8],
                str(task.task_type),
                status_text(task),
                bar,
                f"{task.progress:.0%}",
                f"{task.attempts}/{task.max_retries + 1}",
            )
        footer = Text(f"{self.events} events; last: {self.last or '-'}.  Ctrl-C to stop.", "dim")
        return Group(table, footer)


def _released(task: Task, dependency: UUID) -> Task:
    """The task with ``dependency`` no longer among those it waits for."""
    rest = tuple(waited for waited in task.waiting_for if waited != dependency)
    return dataclasses.replace(task, waiting_for=rest)


def watch_live(console: Console, table: WatchTable) -> Live:
    """The live display of ``table``; enter it to start drawing."""
    return Live(get_renderable=table.render, console=console, refresh_per_second=4)
