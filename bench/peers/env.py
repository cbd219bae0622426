"""The peers' own environment: made on demand beside the product's, never installed in it.

``.venv-peers`` (gitignored) gets the peer libraries at pinned versions, the first time
the benchmark needs them and whenever the pins change; it is built from the interpreter
that runs the benchmark, so both run the same Python.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.server import ROOT

VENV = ROOT / ".venv-peers"
#: The versions measured. arq pins redis-py below 6, which SAQ accepts too.
REQUIREMENTS = ("saq==0.26.4", "arq==0.28.0", "fastapi", "uvicorn[standard]", "hiredis")


def peer_python() -> Path:
    """The peers' interpreter, with the pinned libraries installed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    sys.stderr.write(f"bench: installing the peers ({', '.join(REQUIREMENTS)}) in {VENV}\n")
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(step)} failed:\n{done.stderr[-2000:]}")
    stamp.write_text(wanted)
    return python
