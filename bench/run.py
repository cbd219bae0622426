"""The benchmark: Task Manager against a hand-written FastAPI baseline, in one table.

Run ``python -m bench.run`` (or ``./run.sh bench``); ``--quick`` measures about one second
each, with small counts, to check that the harness works. Servers run as
``python -m taskmanager`` would under ``./run.sh start`` (one uvicorn process, uvloop and
httptools), each on its own loopback port; wrk drives the HTTP figures; product and
baseline runs alternate and the medians are compared, so a noisy machine cannot fake a
ratio. The rate limiter stays on, raised so that it does not refuse the load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.benchmarks import BENCHMARKS
from bench.harness import FULL, QUICK, Servers
from bench.report import Report
from bench.server import ServerError
from bench.wrk import CONNECTIONS, THREADS, Wrk

SECTIONS = tuple(BENCHMARKS)
TARGETS_MISSED = 3  # the table was printed but a target was missed; 1 means the harness failed


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table; 0 when every target is met, else 3."""
    args = parse_arguments(argv)
    profile = QUICK if args.quick else FULL
    if args.duration or args.rounds:
        profile = dataclasses.replace(
            profile,
            duration=args.duration or profile.duration,
            rounds=args.rounds or profile.rounds,
            warmup=min(profile.warmup, args.duration or profile.duration),
        )
    sections = args.only or SECTIONS
    # Thousands of long-polls need as many sockets, here and in the servers we start.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    workdir = Path(tempfile.mkdtemp(prefix="taskmanager-bench-"))
    report = Report()
    started = time.monotonic()
    try:
        wrk = Wrk(workdir)
        servers = Servers(workdir)
        for name, benchmark in BENCHMARKS.items():
            if name in sections:
                benchmark(report, wrk, servers, profile)
    except ServerError as error:
        raise SystemExit(f"bench: {error}") from None
    finally:
        if args.keep_logs:
            sys.stderr.write(f"bench: logs kept in {workdir}\n")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.write(
        f"\nTask Manager benchmark ({'quick' if args.quick else 'full'}: "
        f"{profile.duration:g} s x {profile.rounds} rounds per HTTP figure, "
        f"{CONNECTIONS} connections, {THREADS} wrk threads; "
        f"{os.cpu_count()} CPUs; {time.monotonic() - started:.0f} s)\n\n"
    )
    sys.stdout.write(report.render() + "\n")
    sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(report.figures, indent=2) + "\n")
    return 0 if report.all_passed else TARGETS_MISSED


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``--help`` lists the sections ``--only`` may name."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 1 s per measurement")
    parser.add_argument("--duration", type=float, help="seconds per wrk measurement")
    parser.add_argument("--rounds", type=int, help="alternating rounds per HTTP figure")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
