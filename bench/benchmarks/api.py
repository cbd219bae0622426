"""POST /tasks and GET /tasks/{id}: the product against the hand-written FastAPI baseline."""

from __future__ import annotations

import statistics

from bench.harness import Profile, Servers
from bench.report import Report, Row, ms
from bench.sampler import wait_idle
from bench.server import all_running
from bench.tasks import SUBMIT_BODY, submit_task
from bench.wrk import Wrk, WrkResult


def compare_with_baseline(report: Report, wrk: Wrk, servers: Servers, profile: Profile) -> None:
    """Requests per second and latency: alternate product and baseline, compare medians."""
    with all_running(servers.product("product"), servers.baseline("baseline")) as (
        product,
        baseline,
    ):
        task_id = submit_task(product.port)
        cases = [
            ("POST /tasks", "/tasks", "/tasks", SUBMIT_BODY),
            ("GET /tasks/{id}", f"/tasks/{task_id}", f"/tasks/{task_id}", None),
        ]
        for label, product_path, baseline_path, body in cases:
            runs: dict[str, list[WrkResult]] = {"product": [], "baseline": []}
            servers_and_paths = {
                "product": (product, product_path),
                "baseline": (baseline, baseline_path),
            }
            for which, (server, path) in servers_and_paths.items():
                if profile.settle:
                    wrk.run(server.url(path), profile.warmup, body=body)
                    if which == "product":
                        wait_idle(server.pid)
            for round_index in range(profile.rounds):
                order = ["product", "baseline"] if round_index % 2 == 0 else ["baseline", "product"]
                for which in order:
                    server, path = servers_and_paths[which]
                    runs[which].append(wrk.run(server.url(path), profile.duration, body=body))
                    wait_idle(product.pid)
            _add_rows(report, label, runs)


def _add_rows(report: Report, label: str, runs: dict[str, list[WrkResult]]) -> None:
    """Three rows for one endpoint: the medians of requests/s, p50 and p99."""
    p_rps = statistics.median(r.rps for r in runs["product"])
    b_rps = statistics.median(r.rps for r in runs["baseline"])
    p50 = statistics.median(r.p50_ms for r in runs["product"])
    b50 = statistics.median(r.p50_ms for r in runs["baseline"])
    p99 = statistics.median(r.p99_ms for r in runs["product"])
    b99 = statistics.median(r.p99_ms for r in runs["baseline"])
    errors = sum(r.errors for rs in runs.values() for r in rs)
    rounds = ", ".join(
        f"{p.rps:,.0f}/{b.rps:,.0f}" for p, b in zip(runs["product"], runs["baseline"], strict=True)
    )
    key = label.split(maxsplit=1)[0].lower()
    report.figures |= {f"{key}_rps": p_rps, f"{key}_baseline_rps": b_rps}
    report.add(
        Row(
            f"{label} requests/s",
            f"{p_rps:,.0f}",
            f"{b_rps:,.0f}",
            f"{p_rps / b_rps:.2f}x",
            ">= 1.00x",
            p_rps >= b_rps and errors == 0,
            f"rounds product/baseline: {rounds}"
            + (f"; {errors} failed requests" if errors else ""),
        )
    )
    report.add(Row(f"{label} p50", ms(p50), ms(b50), f"{p50 / b50:.2f}x"))
    report.add(Row(f"{label} p99", ms(p99), ms(b99), f"{p99 / b99:.2f}x"))
