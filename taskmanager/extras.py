"""How to add an optional part of the package (an extra) to the environment that runs it.

The package is installed from its checkout (``run.sh`` makes ``.venv`` with it): naming the
bare package would ask an index for a project of that name that is not this one. And the
``pip`` first on ``PATH`` may belong to another Python, so the hint names this one's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

#: The checkout this package was installed from (editable), if it was.
CHECKOUT = Path(__file__).resolve().parent.parent


def install_command(extra: str) -> str:
    """The shell command that installs ``extra`` where this Python looks for packages."""
    python = shlex.quote(sys.executable or "python3")
    if (CHECKOUT / "pyproject.toml").is_file():
        return f"{python} -m pip install -e {shlex.quote(f'{CHECKOUT}[{extra}]')}"
    return f"{python} -m pip install {shlex.quote(f'taskmanager[{extra}]')}"
