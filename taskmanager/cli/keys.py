"""``taskmanager keys new``: make an API key, show it once, and the keys file's line."""

from __future__ import annotations

import argparse
import json
import sys

from taskmanager.cli.exit_status import ExitStatus
from taskmanager.keys import Role, file_line, new_key


def new_key_command(args: argparse.Namespace) -> ExitStatus:
    """Print a new key and the line that lets the service accept it."""
    role: Role = "admin" if args.admin else "client"
    key = new_key()
    try:
        line = file_line(args.name, role, key)
    except ValueError as exc:
        print(f"taskmanager keys new: {exc}", file=sys.stderr)  # noqa: T201
        return ExitStatus.USAGE
    if args.json:
        print(json.dumps({"name": args.name, "role": role, "key": key, "line": line}))  # noqa: T201
        return ExitStatus.OK
    print(  # noqa: T201 - the command's output
        f"A new {role} key for {args.name}. It is shown only this once; keep it secret:\n"
        f"\n    {key}\n\n"
        "Add this line to the keys file the service reads (TASKMANAGER_API_KEYS_FILE),\n"
        "then restart the service. The file keeps only the key's hash:\n"
        f"\n    {line}\n\n"
        "Clients send the key as `Authorization: Bearer <key>`; the command line reads it\n"
        "from TASKMANAGER_API_KEY."
    )
    return ExitStatus.OK
