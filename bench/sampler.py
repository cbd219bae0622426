"""What the kernel says about a process: its memory now, at the peak and sampled; its CPU time.

Everything here reads /proc, so the benchmark measures Linux processes only.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` figure from /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def rss(pid: int) -> int:
    """Resident memory in bytes."""
    return proc_status(pid, "VmRSS")


def peak_rss(pid: int) -> int:
    """The kernel's peak-RSS mark (VmHWM) in bytes."""
    return proc_status(pid, "VmHWM")


def reset_peak(pid: int) -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def cpu_ticks(pid: int) -> int:
    """User plus system CPU ticks used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (a server that runs several processes)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for thread in Path(f"/proc/{pid}/task").iterdir():
            for child in (thread / "children").read_text().split():
                pids += process_tree(int(child))
    return pids


def wait_idle(pid: int, timeout: float = 60) -> None:
    """Wait until the process stops using CPU (a server's workers drained their backlog)."""
    deadline = time.monotonic() + timeout
    last = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_ticks(pid)
        if now - last <= 2:  # noqa: PLR2004 - timers tick now and then
            return
        last = now


class MemorySampler:
    """Samples a process's RSS every few milliseconds on a thread; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self.peak = rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError, KeyError):
            self.peak = max(self.peak, rss(self.pid))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError, KeyError):
                self.peak = max(self.peak, rss(self.pid))


def machine_ticks() -> int:
    """CPU ticks the whole machine has been busy since boot (all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]  # guest time is in user already


class CpuMeter:
    """CPU used during a ``with`` block, in cores (1.0 is one core busy throughout).

    ``shares`` has one figure per named group of processes; ``client`` for this process
    and the children that ended inside the block (the load generator: wrk, not the
    servers, which end later); ``others`` for what the rest of the machine used (other
    people's work); and ``machine`` for all of it.
    """

    def __init__(self, groups: dict[str, Sequence[int]]) -> None:
        self.groups = groups
        self.shares: dict[str, float] = {}
        self._start: tuple[float, dict[str, int], float, int] | None = None

    def _group_ticks(self) -> dict[str, int]:
        return {name: sum(cpu_ticks(pid) for pid in pids) for name, pids in self.groups.items()}

    def __enter__(self) -> Self:
        self._start = (time.monotonic(), self._group_ticks(), _client_seconds(), machine_ticks())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._start is not None  # noqa: S101 - entered first
        began, groups_before, client_before, busy_before = self._start
        elapsed = time.monotonic() - began
        groups_after = self._group_ticks()
        client = _client_seconds() - client_before
        busy_after = machine_ticks()
        hertz = os.sysconf("SC_CLK_TCK")
        shares = {
            name: (groups_after[name] - groups_before[name]) / hertz / elapsed
            for name in self.groups
        }
        shares["client"] = client / elapsed
        machine = (busy_after - busy_before) / hertz / elapsed
        shares["others"] = max(0.0, machine - sum(shares.values()))
        shares["machine"] = machine
        self.shares = shares


def _client_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    now = os.times()
    return now.user + now.system + now.children_user + now.children_system
