"""The ``taskmanager`` command: serve the API (the default), or use a running service.

The client commands import httpx and rich only when they run, so ``serve`` works
without them, and the serving code (uvicorn, FastAPI) is imported only by ``serve``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from taskmanager.cli.exit_status import ExitStatus, reader_gone
from taskmanager.cli.parser import CLIENT_COMMANDS, build_parser
from taskmanager.extras import install_command

__all__ = ["ExitStatus", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; exits with an ``ExitStatus``."""
    args = build_parser().parse_args(argv)
    if args.command in {None, "serve"}:
        from taskmanager.http.server import serve  # noqa: PLC0415 - only serve needs uvicorn

        serve(host=args.host, port=args.port, reload=args.reload)
        return
    if args.command == "worker":
        from taskmanager.workerprocess import run_worker  # noqa: PLC0415 - the actors only here

        run_worker(health_file=args.health_file)
        return
    if args.command == "keys":
        from taskmanager.cli.keys import new_key_command  # noqa: PLC0415 - light, but only here

        try:
            sys.exit(new_key_command(args))
        except BrokenPipeError:
            sys.exit(reader_gone())
    if args.command in CLIENT_COMMANDS:
        try:
            from taskmanager.cli.commands import run  # noqa: PLC0415 - needs the client extra
        except ImportError as exc:
            sys.exit(
                f"taskmanager {args.command}: {exc.name} is not installed; "
                f"install the client: {install_command('client')}"
            )
        sys.exit(run(args))
