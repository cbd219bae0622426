"""Load test: mixed traffic from 50 loopback addresses against a real server; nothing may be lost.

Starts ``python -m taskmanager`` with the default rate limit (10/minute per address) and a
small time scale, so tasks finish during the run; then, for ``--duration`` seconds, 50
clients, each bound to its own source address on 127.0.0.0/8, submit, poll, long-poll,
list and cancel. Most keep within their budget; a few hammer the server and collect 429s.
At the end every accepted task must still be found (queued, processing, completed, failed
or cancelled), no answer may be a 5xx, and the server log may hold no traceback.

Run it with ``./run.sh loadtest`` or ``python -m loadtest.run --duration 60``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from bench.sampler import rss
from bench.server import Server, ServerError, taskmanager_server

PORTS = range(8400, 8500)
LIMIT_PER_MINUTE = 10  # the server's default, which this test keeps
RETRY_SHARE = 0.3  # how often a submission is sent with an Idempotency-Key to send again
# The traffic mix: each operation's share of the requests (a client's first is a submit).
MIX = (("submit", 0.4), ("poll", 0.15), ("long-poll", 0.15), ("list", 0.15), ("cancel", 0.15))
MAX_ADDRESSES = 250
TERMINAL_OR_LIVE = {"queued", "processing", "completed", "failed", "cancelled"}
# Answers a well-formed request can get; anything else is reported as unexpected.
EXPECTED = {
    "submit": {200, 202, 429},
    "poll": {200, 404, 429},
    "long-poll": {200, 404, 429},
    "list": {200, 429},
    "cancel": {200, 409, 404, 429},
}


@dataclass
class Tally:
    """What the clients saw."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)
    events: int = 0

    def record(self, operation: str, response: httpx.Response) -> None:
        """Count one answer."""
        self.requests += 1
        self.statuses[response.status_code] += 1
        self.by_operation[operation] += 1
        if response.status_code not in EXPECTED[operation]:
            self.unexpected.append(f"{operation} -> {response.status_code} {response.text[:200]}")

    @property
    def server_errors(self) -> int:
        """How many answers were 5xx."""
        return sum(
            n for code, n in self.statuses.items() if code >= HTTPStatus.INTERNAL_SERVER_ERROR
        )


def client_for(url: str, address: str) -> httpx.AsyncClient:
    """A client whose connections leave from ``address``."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=30)


def submission(rng: random.Random) -> dict[str, Any]:
    """A random valid task."""
    match rng.choice(("compute_sum", "compute_sum", "generate_report", "simulate_error")):
        case "compute_sum":
            numbers = [rng.uniform(-1e6, 1e6) for _ in range(rng.randint(1, 200))]
            return {"task_type": "compute_sum", "parameters": {"numbers": numbers}}
        case "generate_report":
            sections = rng.randint(1, 10)
            parameters = {"title": f"report {rng.randint(1, 10**6)}", "sections": sections}
            return {"task_type": "generate_report", "parameters": parameters}
        case _:
            error = rng.choice(("value_error", "timeout", "crash"))
            return {"task_type": "simulate_error", "parameters": {"error": error}}


class TrafficClient:
    """One source address doing a mix of operations until the deadline."""

    def __init__(self, url: str, address: str, pause: float, tally: Tally, seed: int) -> None:
        self.client = client_for(url, address)
        self.pause = pause
        self.tally = tally
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - a repeatable traffic mix, not secrets
        self.mine: list[str] = []
        self.keyed: tuple[str, dict[str, Any]] | None = None
        self.limited = 0

    async def run(self, deadline: float) -> None:
        """Act, pause, repeat."""
        async with self.client:
            await asyncio.sleep(min(self.rng.uniform(0, self.pause), deadline - time.monotonic()))
            while time.monotonic() < deadline:
                try:
                    await self.act()
                except httpx.TransportError as exc:
                    self.tally.transport_errors[type(exc).__name__] += 1
                pause = self.pause * self.rng.uniform(1.0, 1.1)
                await asyncio.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    async def act(self) -> None:
        """One request, the operation drawn from the mix."""
        operation = self.rng.choices([name for name, _ in MIX], [share for _, share in MIX])[0]
        if not self.mine:
            operation = "submit"
        match operation:
            case "submit":
                await self.submit()
            case "poll":
                await self.call("poll", "GET", f"/tasks/{self.rng.choice(self.mine)}")
            case "long-poll":
                task_id = self.mine[-1]
                await self.call("long-poll", "GET", f"/tasks/{task_id}", params={"wait": "true"})
            case "list":
                params = self.rng.choice(({"limit": 50}, {"status": "completed", "limit": 20}, {}))
                await self.call("list", "GET", "/tasks", params=params)
            case _:
                await self.call("cancel", "DELETE", f"/tasks/{self.rng.choice(self.mine)}")

    async def submit(self) -> None:
        """Submit a new task, or now and then send the last keyed one again, as a retry would."""
        if self.keyed is not None and self.rng.random() < RETRY_SHARE:
            key, body = self.keyed
        else:
            key, body = f"load-{self.seed}-{len(self.mine)}", submission(self.rng)
            if self.rng.random() < RETRY_SHARE:
                self.keyed = (key, body)
        response = await self.call(
            "submit", "POST", "/tasks", json=body, headers={"Idempotency-Key": key}
        )
        if response.status_code in {HTTPStatus.OK, HTTPStatus.ACCEPTED}:
            task_id = response.json()["task_id"]
            self.tally.accepted.add(task_id)
            if task_id not in self.mine:
                self.mine.append(task_id)

    async def call(self, operation: str, method: str, url: str, **kwargs: Any) -> httpx.Response:  # noqa: ANN401
        """Send a request and count its answer."""
        response = await self.client.request(method, url, **kwargs)
        self.tally.record(operation, response)
        self.limited += response.status_code == HTTPStatus.TOO_MANY_REQUESTS
        return response


async def watch_events(url: str, tally: Tally) -> None:
    """Follow the live event stream until the server closes it."""
    async with (
        client_for(url, "127.0.0.1") as client,
        client.stream("GET", "/events", timeout=None) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                tally.events += 1


async def verify(url: str, accepted: set[str]) -> tuple[Counter[str], list[str]]:
    """Look every accepted task up once, from fresh addresses, within each one's budget."""
    ids = sorted(accepted)
    found: Counter[str] = Counter()
    lost: list[str] = []
    groups = [ids[start : start + LIMIT_PER_MINUTE] for start in range(0, len(ids), 10)]

    async def look_up(index: int, group: list[str]) -> None:
        address = f"127.0.{1 + index // MAX_ADDRESSES}.{1 + index % MAX_ADDRESSES}"
        async with client_for(url, address) as client:
            for task_id in group:
                response = await client.get(f"/tasks/{task_id}")
                ok = response.status_code == HTTPStatus.OK
                status = response.json().get("status") if ok else None
                if status in TERMINAL_OR_LIVE:
                    found[status] += 1
                else:
                    lost.append(f"{task_id}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(look_up(index, group) for index, group in enumerate(groups)))
    return found, lost


def stop_timed(server: Server) -> tuple[int | None, float]:
    """Stop the server; its exit status and the seconds it took to end after SIGTERM."""
    started = time.monotonic()
    status = server.stop()
    return status, time.monotonic() - started


async def load(args: argparse.Namespace) -> int:
    """Run the whole test; the exit status says whether it passed."""
    ports = PORTS if args.port is None else range(args.port, args.port + 1)
    log_dir = Path(tempfile.mkdtemp(prefix="taskmanager-load-"))
    server = taskmanager_server(log_dir, ports=ports, settings={"time_scale": args.time_scale})
    server.start()
    watcher: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(server.wait_ready)
        url = server.url()
        rss_start = rss(server.pid)
        tally = Tally()
        rng = random.Random(args.seed)  # noqa: S311 - same reason
        hammering = set(rng.sample(range(args.clients), args.over_limit))
        polite_pause = 60 / LIMIT_PER_MINUTE * 1.05  # ten requests span more than a minute
        clients = [
            TrafficClient(
                url,
                f"127.0.0.{2 + index}",
                args.hammer_pause if index in hammering else polite_pause,
                tally,
                seed=args.seed * 1000 + index,
            )
            for index in range(args.clients)
        ]
        started = time.monotonic()
        deadline = started + args.duration
        watcher = asyncio.create_task(watch_events(url, tally))
        await asyncio.gather(*(client.run(deadline) for client in clients))
        elapsed = time.monotonic() - started
        async with httpx.AsyncClient(base_url=url) as client:
            stats = (await client.get("/stats")).json()
        found, lost = await verify(url, tally.accepted)
        rss_end = rss(server.pid)
    finally:
        status, stop_seconds = stop_timed(server)
    if watcher is not None:
        with contextlib.suppress(httpx.HTTPError, TimeoutError):
            await asyncio.wait_for(watcher, 5)
    output = server.output()
    tracebacks = output.count("Traceback")
    server_errors = tally.server_errors
    kept = sum(stats["counts"].values())

    lines = [
        (
            f"load test: {elapsed:.1f} s, {args.clients} source addresses on 127.0.0.0/8 "
            f"({args.over_limit} over the limit), rate limit {LIMIT_PER_MINUTE}/minute, "
            f"time scale {args.time_scale}"
        ),
        f"requests:        {tally.requests} ({tally.requests / elapsed:.1f}/s)",
        (
            "  by operation:  "
            + ", ".join(f"{k} {v}" for k, v in sorted(tally.by_operation.items()))
        ),
        ("  by status:     " + ", ".join(f"{k}: {v}" for k, v in sorted(tally.statuses.items()))),
        (
            f"429s:            {tally.statuses[429]} (over-limit clients "
            f"{sum(c.limited for i, c in enumerate(clients) if i in hammering)}, polite clients "
            f"{sum(c.limited for i, c in enumerate(clients) if i not in hammering)})"
        ),
        f"5xx:             {server_errors}",
        f"transport errors: {sum(tally.transport_errors.values())} {dict(tally.transport_errors)}",
        f"unexpected answers: {len(tally.unexpected)}",
        *(f"    {line}" for line in tally.unexpected[:10]),
        f"tasks accepted:  {len(tally.accepted)}",
        (
            f"tasks found:     {sum(found.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
            + ")"
        ),
        f"tasks lost:      {len(lost)}",
        *(f"    {line}" for line in lost[:10]),
        f"/stats kept:     {kept} {stats['counts']}",
        f"events streamed: {tally.events}",
        (
            f"server memory:   VmRSS {rss_start / 2**20:.1f} MiB at start, "
            f"{rss_end / 2**20:.1f} MiB at end"
        ),
        (
            f"server stop:     SIGTERM -> exit status {status} in {stop_seconds:.2f} s "
            "(-15 is 143 in a shell)"
        ),
        f"tracebacks in the server log: {tracebacks} (log: {server.log})",
    ]
    failures = []
    if server_errors:
        failures.append("5xx answers")
    if lost or kept != len(tally.accepted):
        failures.append("lost tasks")
    if tally.transport_errors:
        failures.append("transport errors")
    if tally.unexpected:
        failures.append("unexpected answers")
    if tracebacks:
        failures.append("tracebacks in the server log")
    if status not in {0, 143, -signal.SIGTERM}:
        failures.append(f"server exit status {status}")
    lines.append("RESULT: " + ("PASS" if not failures else "FAIL: " + ", ".join(failures)))
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if failures else 0


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60, help="seconds of traffic (60)")
    parser.add_argument("--clients", type=int, default=50, help="source addresses (50)")
    parser.add_argument("--over-limit", type=int, default=8, help="clients that hammer (8)")
    parser.add_argument(
        "--hammer-pause", type=float, default=0.5, help="seconds between a hammer's requests"
    )
    parser.add_argument("--time-scale", type=float, default=0.05, help="TASKMANAGER_TIME_SCALE")
    parser.add_argument("--port", type=int, help="server port (default: a free one in 8400-8499)")
    parser.add_argument("--seed", type=int, default=6, help="random seed, for a repeatable mix")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_ADDRESSES or not 0 <= args.over_limit <= args.clients:
        parser.error("--clients must be 1 to 250 and --over-limit at most --clients")
    try:
        status = asyncio.run(load(args))
    except ServerError as error:
        raise SystemExit(f"load test: {error}") from None
    sys.exit(status)


if __name__ == "__main__":
    main()
