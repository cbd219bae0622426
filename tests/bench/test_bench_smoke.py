"""The benchmark harness runs end to end; the figures themselves are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.benchmarks import BENCHMARKS
from bench.harness import QUICK

ROOT = Path(__file__).resolve().parents[2]

#: The sections of the benchmark in groups the suite runs side by side (each a process of
#: its own, on any pytest worker), with the rows each group must print. Together they are
#: every section but the peers', which installs SAQ and arq into an environment of its own
#: (from the package registry) before it can measure anything.
GROUPS = {
    "http pipeline backlog ask": (
        "POST /tasks requests/s",
        "POST /tasks p50",
        "POST /tasks p99",
        "GET /tasks/{id} requests/s",
        "GET /tasks/{id} p50",
        "GET /tasks/{id} p99",
        "pipeline: tasks completed/s",
        f"requests/s, {QUICK.backlog_tasks:,} delayed tasks waiting",
        f"p99, {QUICK.backlog_tasks:,} delayed tasks waiting",
        "actor ask round trip",
    ),
    "longpoll store": (
        "long-polls: server memory growth",
        "long-poll wake-up after completion, p50",
        "long-poll wake-up after completion, p99",
        "memory per stored completed task",
        ": first byte",
        ": total",
        ": peak memory growth",
    ),
    "scaleout cross-replica": (
        "POST /tasks requests/s, Redis, 1 process",
        "POST /tasks requests/s, Redis, 2 processes",
        "POST /tasks requests/s, Redis, 2 separate services",
        "GET /tasks/{id} requests/s, Redis, 1 process",
        "GET /tasks/{id} requests/s, Redis, 2 processes",
        "long-poll on one replica, cancel on another: wake-up, p99",
        "cancel on one replica reaches the job on another, p99",
    ),
    "redis-cost": (
        "Redis round trips per task, 1 replica",
        "Redis commands per task, 1 replica",
        "Redis round trips per task, 2 replicas",
        "Redis commands per task, 2 replicas",
        "Redis commands per task, with its removal",
        "Redis memory per finished task",
        "Redis memory per finished task: event stream",
        "Redis CPU per task",
    ),
    # Apart from redis-cost: each takes about 20 s, and the two processes of the
    # suite's parallel phase share them out.
    "replica-cost": (
        "replica CPU per POST, Redis, 1 process",
        "replica CPU per POST, Redis, 4 processes",
        "Redis CPU per POST, Redis, 4 processes",
    ),
    "process-job process-task process-load": (
        "no-op process job, round trip p50 / p99",
        "no-op process task, submit to completed, p50 / p99",
        "GET /tasks/{id} p50 / p99, every worker running a CPU-bound process job",
    ),
}

#: Figures other tools read from the JSON the benchmark writes.
FIGURES = {"http pipeline backlog ask": {"post_rps", "get_rps", "ask_us"}}


def test_the_groups_cover_every_section_but_the_peers():
    grouped = [name for sections in GROUPS for name in sections.split()]
    assert sorted(grouped) == sorted(name for name in BENCHMARKS if name != "peers")


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize(("sections", "rows"), GROUPS.items(), ids=list(GROUPS))
def test_the_quick_benchmark_starts_measures_and_prints_every_row(tmp_path, sections, rows):
    figures = tmp_path / "figures.json"
    command = [sys.executable, "-m", "bench.run", "--quick", "--json", str(figures), "--only"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and harness
        [*command, *sections.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=190,
        check=False,
    )
    # 0: every target met, 3: some missed; not asserted, a one-second run is noise.
    assert done.returncode in (0, 3), f"status {done.returncode}:\n{done.stderr[-4000:]}"
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "measurement"
    printed = "\n".join(table[2:])
    for row in rows:
        assert row in printed, f"row {row!r} missing from:\n{done.stdout}"
    assert all(line.rstrip().endswith(("PASS |", "FAIL |", " |")) for line in table)
    kept = set(json.loads(figures.read_text()))
    assert kept
    assert kept >= FIGURES.get(sections, set())
