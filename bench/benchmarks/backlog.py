"""Submissions with a large backlog of delayed tasks waiting, against an empty queue."""

from __future__ import annotations

import statistics

from bench.harness import Profile, Servers
from bench.report import Report, Row, ms
from bench.sampler import wait_idle
from bench.tasks import SUBMIT_BODY, queue_depth
from bench.wrk import Wrk, WrkResult

# A day from now: the tasks wait for the whole measurement, and take no worker.
DELAYED_BODY = '{"task_type":"compute_sum","parameters":{"numbers":[1,2,3]},"delay":86400}'
TARGET = 0.9  # within noise of the empty queue


def measure_delayed_backlog(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """POST /tasks requests/s with nothing waiting, then with N delayed tasks waiting.

    One server (the in-memory default, TIME_SCALE=0 so that every measured task runs at
    once): rounds with an empty queue, then N tasks with a day's delay submitted as fast
    as it takes them, then the same rounds again. The queue depth is read before and
    after the second rounds, so the delayed tasks are known to have waited throughout.
    """
    count = profile.backlog_tasks
    with servers.product("backlog") as server:
        url = server.url("/tasks")
        if profile.settle:
            wrk.run(url, profile.warmup, body=SUBMIT_BODY)
            wait_idle(server.pid)
        empty = _rounds(wrk, server.pid, url, profile)
        filled = wrk.submit(url, count, DELAYED_BODY)
        wait_idle(server.pid)
        waiting = queue_depth(server.port)
        loaded = _rounds(wrk, server.pid, url, profile)
        waiting_after = queue_depth(server.port)
    empty_rps = statistics.median(r.rps for r in empty)
    loaded_rps = statistics.median(r.rps for r in loaded)
    errors = sum(r.errors for r in [*empty, *loaded, filled])
    ratio = loaded_rps / empty_rps
    report.figures |= {"backlog_empty_rps": empty_rps, "backlog_loaded_rps": loaded_rps}
    report.add(
        Row(
            f"POST /tasks requests/s, {count:,} delayed tasks waiting",
            f"{loaded_rps:,.0f}",
            baseline=f"{empty_rps:,.0f}",
            ratio=f"{ratio:.2f}x",
            target=f">= {TARGET:.2f}x",
            passed=ratio >= TARGET and errors == 0 and waiting_after >= waiting >= count,
            note=(
                "baseline: the same server before the delayed tasks were submitted (its queue "
                f"empty); rounds empty/loaded: {_rounds_text(empty, loaded)}; the {count:,} "
                f"delayed tasks were submitted at {filled.rps:,.0f}/s; queue depth "
                f"{waiting:,} before the loaded rounds, {waiting_after:,} after"
                + (f"; {errors} failed requests" if errors else "")
            ),
        )
    )
    empty_p99 = statistics.median(r.p99_ms for r in empty)
    loaded_p99 = statistics.median(r.p99_ms for r in loaded)
    report.add(
        Row(
            f"POST /tasks p99, {count:,} delayed tasks waiting",
            ms(loaded_p99),
            baseline=ms(empty_p99),
            ratio=f"{loaded_p99 / empty_p99:.2f}x",
            note=(
                "the same runs; the tail grows with everything the process keeps (the "
                "delayed tasks, and the finished ones of the rounds before): Python's full "
                "garbage collections walk all of it"
            ),
        )
    )


def _rounds(wrk: Wrk, pid: int, url: str, profile: Profile) -> list[WrkResult]:
    results = []
    for _ in range(profile.rounds):
        results.append(wrk.run(url, profile.duration, body=SUBMIT_BODY))
        if profile.settle:
            wait_idle(pid)  # the workers ran what was submitted
    return results


def _rounds_text(empty: list[WrkResult], loaded: list[WrkResult]) -> str:
    return ", ".join(f"{e.rps:,.0f}/{lo.rps:,.0f}" for e, lo in zip(empty, loaded, strict=True))
