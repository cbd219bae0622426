"""The task store: memory per completed task, and GET /tasks over every one of them."""

from __future__ import annotations

import statistics
import time

from bench.client import timed_get
from bench.harness import Profile, Servers
from bench.report import Report, Row, mib, ms
from bench.sampler import MemorySampler, peak_rss, reset_peak, rss
from bench.tasks import SUBMIT_BODY, list_tasks, wait_drained
from bench.wrk import Wrk


def measure_store(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """Memory per stored completed task, then GET /tasks over all of them."""
    count = profile.list_tasks
    with servers.product("store") as server:
        wrk.submit(server.url("/tasks"), 2000, SUBMIT_BODY)  # warm every code path
        wait_drained(server.port)
        time.sleep(0.5)
        before_count = len(list_tasks(server.port))
        before = rss(server.pid)
        wrk.submit(server.url("/tasks"), count, SUBMIT_BODY)
        wait_drained(server.port)
        time.sleep(0.5)
        after = rss(server.pid)
        stored = len(list_tasks(server.port, "?status=completed")) - before_count
        per_task = (after - before) / stored
        report.figures["bytes_per_task"] = per_task
        report.add(
            Row(
                "memory per stored completed task",
                f"{per_task:,.0f} B",
                target="< 2,048 B",
                passed=per_task < 2048,  # noqa: PLR2004
                note=f"RSS {mib(before)} -> {mib(after)} for {stored:,} completed tasks",
            )
        )
        total = len(list_tasks(server.port))
        firsts, totals, growths = [], [], []
        for _ in range(min(3, profile.rounds)):
            time.sleep(0.5)
            reset_peak(server.pid)
            start_rss = rss(server.pid)
            with MemorySampler(server.pid) as sampler:
                first, whole, size = timed_get(server.port, "/tasks")
            peak = max(sampler.peak, peak_rss(server.pid))
            firsts.append(first)
            totals.append(whole)
            growths.append(peak - start_rss)
    first, whole, growth = statistics.median(firsts), statistics.median(totals), max(growths)
    report.figures |= {"list_ttfb_ms": first * 1000, "list_growth": growth}
    report.add(
        Row(
            f"GET /tasks over {total:,}: first byte",
            ms(first * 1000),
            target="< 100 ms",
            passed=first < 0.1,  # noqa: PLR2004
            note=f"{size / 2**20:.1f} MiB of JSON; median of {len(firsts)} runs",
        )
    )
    report.add(Row(f"GET /tasks over {total:,}: total", ms(whole * 1000)))
    report.add(
        Row(
            f"GET /tasks over {total:,}: peak memory growth",
            mib(growth),
            target="< 50 MiB",
            passed=growth < 50 * 2**20,
        )
    )
