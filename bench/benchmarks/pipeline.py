"""Tasks completed per second, from submission to the end of the run, with TIME_SCALE=0."""

from __future__ import annotations

import time

from bench.harness import Profile, Servers
from bench.report import Report, Row
from bench.tasks import SUBMIT_BODY, list_tasks, timestamp, wait_drained
from bench.wrk import Wrk


def measure_pipeline(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """Submit for a while with TIME_SCALE=0, wait until all ran, count completions per second."""
    with servers.product("pipeline") as server:
        if profile.settle:
            wrk.run(server.url("/tasks"), profile.warmup, body=SUBMIT_BODY)
            wait_drained(server.port)
        before = len(list_tasks(server.port))
        started = time.time()
        result = wrk.run(server.url("/tasks"), profile.duration, body=SUBMIT_BODY)
        wait_drained(server.port)
        tasks = [t for t in list_tasks(server.port) if timestamp(t["created_at"]) >= started]
    completed = [t for t in tasks if t["status"] == "completed"]
    first = min(timestamp(t["created_at"]) for t in tasks)
    last = max(timestamp(t["finished_at"]) for t in completed)
    rate = len(completed) / (last - first)
    report.figures["pipeline_per_s"] = rate
    report.add(
        Row(
            "pipeline: tasks completed/s (TIME_SCALE=0)",
            f"{rate:,.0f}",
            target=">= 2,000/s",
            passed=rate >= 2000 and len(completed) == len(tasks),  # noqa: PLR2004
            note=(
                f"{len(tasks):,} submitted at {result.rps:,.0f}/s (after {before:,} warm-up), "
                f"{len(completed):,} completed, the last {last - started - result.seconds:.2f} s "
                "after submission stopped"
            ),
        )
    )
