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
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PORTS = range(8300, 8400)
CONNECTIONS = 64
THREADS = 2
RATE_LIMIT = "1000000/second"  # on, checked and recorded per request, but never refusing
MAX_TASKS = 1_000_000
SUBMIT_BODY = '{"task_type":"compute_sum","parameters":{"numbers":[1,2,3]}}'
TERMINAL = {"completed", "failed", "cancelled"}

# wrk reports through done(): one JSON line, latencies in microseconds.
WRK_REPORT = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""
WRK_POST = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
"""
# For "submit N tasks": each thread stops after its share and says so in a file, and the
# harness then interrupts wrk (its main thread otherwise sleeps for the whole -d).
WRK_STOP_AFTER = """
local limit = tonumber(os.getenv("BENCH_PER_THREAD"))
local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if seen == limit then
    local marker = io.open(os.getenv("BENCH_MARKER"), "a")
    marker:write("done\\n")
    marker:close()
    wrk.thread:stop()
  end
end
"""


@dataclass(frozen=True)
class Profile:
    """How long and how big each measurement is."""

    duration: float
    rounds: int
    warmup: float
    longpoll_tasks: int
    list_tasks: int
    ask_count: int


FULL = Profile(
    duration=10, rounds=3, warmup=2, longpoll_tasks=10_000, list_tasks=100_000, ask_count=200_000
)
QUICK = Profile(
    duration=1, rounds=1, warmup=0.3, longpoll_tasks=300, list_tasks=3_000, ask_count=20_000
)


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port in 8300-8399 that nothing listens on.

    The search starts at a random port, so that two benchmarks on one machine rarely collide.
    """
    start = random.randrange(len(PORTS))  # noqa: S311 - not for security
    for port in (*PORTS[start:], *PORTS[:start]):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise SystemExit("bench: no free port in 8300-8399")


class Server:
    """One uvicorn process on its own port, with its log in a file."""

    def __init__(self, name: str, module: str, env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = logdir / f"{name}-{self.port}.log"
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", module, "--host", HOST, "--port", str(self.port)],
                cwd=ROOT,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return f"http://{HOST}:{self.port}{path}"

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._fail(f"exited with status {self.process.returncode}")
            try:
                status, _, _ = http_call(self.port, "GET", "/openapi.json")
            except OSError:
                time.sleep(0.05)
                continue
            if status == 200:  # noqa: PLR2004
                return
        self._fail("did not answer within 30 s")

    def _fail(self, why: str) -> None:
        log = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise SystemExit(f"bench: {self.name} server {why}; its log ends with:\n{log}")

    def rss(self) -> int:
        """Resident memory in bytes."""
        return proc_status(self.pid, "VmRSS")

    def reset_peak(self) -> None:
        """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def cpu_ticks(self) -> int:
        """User plus system CPU ticks used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])

    def wait_idle(self, timeout: float = 60) -> None:
        """Wait until the server stops using CPU (its workers drained their backlog)."""
        deadline = time.monotonic() + timeout
        last = self.cpu_ticks()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.cpu_ticks()
            if now - last <= 2:  # noqa: PLR2004 - timers tick now and then
                return
            last = now

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` figure from /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


class MemorySampler:
    """Samples a process's RSS every few milliseconds on a thread; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.005) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self.peak = proc_status(self.pid, "VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError, KeyError):
            self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError, KeyError):
                self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))


@contextlib.contextmanager
def running(name: str, module: str, env: dict[str, str], logdir: Path) -> Iterator[Server]:
    """A server for the length of a ``with`` block."""
    server = Server(name, module, env, logdir)
    try:
        yield server
    finally:
        server.stop()


def product_env(**overrides: object) -> dict[str, str]:
    """The product's environment: production defaults, the limit raised, the store large."""
    env = {
        "TASKMANAGER_RATE_LIMIT": RATE_LIMIT,
        "TASKMANAGER_MAX_TASKS": str(MAX_TASKS),
        "TASKMANAGER_TIME_SCALE": "0",
    }
    env.update({f"TASKMANAGER_{key.upper()}": str(value) for key, value in overrides.items()})
    return env


# --- a small HTTP/1.1 client (blocking, for control requests) -----------------------------


def http_call(
    port: int, method: str, path: str, body: bytes = b"", timeout: float = 60
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection; the body de-chunked."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    return parse_response(b"".join(chunks))


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of one complete HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(lines[0].split()[1]), headers, body


def dechunk(data: bytes) -> bytes:
    """Undo chunked transfer encoding."""
    out = bytearray()
    position = 0
    while True:
        end = data.index(b"\r\n", position)
        size = int(data[position:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


def list_tasks(port: int, query: str = "") -> list[dict[str, Any]]:
    """GET /tasks, parsed."""
    status, _, body = http_call(port, "GET", "/tasks" + query, timeout=300)
    if status != 200:  # noqa: PLR2004
        raise SystemExit(f"bench: GET /tasks{query} answered {status}: {body[:200]!r}")
    tasks: list[dict[str, Any]] = json.loads(body)
    return tasks


def wait_drained(port: int, timeout: float = 300) -> None:
    """Wait until no task is queued or processing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not list_tasks(port, "?status=queued&limit=1") and not list_tasks(
            port, "?status=processing&limit=1"
        ):
            return
        time.sleep(0.05)
    raise SystemExit("bench: the product did not drain its queue in time")


def timestamp(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time."""
    return datetime.fromisoformat(text).timestamp()


# --- wrk ----------------------------------------------------------------------------------


def find_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and we are root."""
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        raise SystemExit("bench: wrk is missing; install it with: sudo apt-get install -y wrk")
    sys.stderr.write("bench: installing wrk with apt-get ...\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("bench: apt-get installed wrk but it is not on PATH")
    return wrk


@dataclass(frozen=True)
class WrkResult:
    """One wrk run."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds


class Wrk:
    """Runs wrk with the Lua scripts written into a scratch directory."""

    def __init__(self, workdir: Path) -> None:
        self.binary = find_wrk()
        self.workdir = workdir
        self.get_script = workdir / "get.lua"
        self.get_script.write_text(WRK_REPORT)
        self.post_script = workdir / "post.lua"
        self.post_script.write_text(WRK_POST + WRK_REPORT)
        self.post_n_script = workdir / "post_n.lua"
        self.post_n_script.write_text(WRK_POST + WRK_STOP_AFTER + WRK_REPORT)

    def run(self, url: str, seconds: float, *, post: bool = False) -> WrkResult:
        """Drive ``url`` for ``seconds`` and report."""
        script = self.post_script if post else self.get_script
        command = self._command(script, url, f"-d{max(1, round(seconds))}s")
        env = {**os.environ, "BENCH_BODY": SUBMIT_BODY}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        return self._parse(done.returncode, done.stdout, done.stderr)

    def submit(self, url: str, count: int) -> WrkResult:
        """POST about ``count`` tasks as fast as the server takes them."""
        marker = self.workdir / "stopped"
        marker.unlink(missing_ok=True)
        env = {
            **os.environ,
            "BENCH_BODY": SUBMIT_BODY,
            "BENCH_PER_THREAD": str(max(1, count // THREADS)),
            "BENCH_MARKER": str(marker),
        }
        command = self._command(self.post_n_script, url, "-d3600s")
        with subprocess.Popen(  # noqa: S603
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as process:
            while process.poll() is None:
                if marker.exists() and len(marker.read_text().split()) >= THREADS:
                    process.send_signal(signal.SIGINT)
                    break
                time.sleep(0.01)
            stdout, stderr = process.communicate()
        return self._parse(process.returncode, stdout, stderr)

    def _command(self, script: Path, url: str, duration: str) -> list[str]:
        return [
            self.binary,
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            duration,
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]

    @staticmethod
    def _parse(returncode: int, stdout: str, stderr: str) -> WrkResult:
        line = next((x for x in stdout.splitlines() if x.startswith("BENCH ")), None)
        if returncode != 0 or line is None:
            raise SystemExit(f"bench: wrk failed ({returncode}):\n{stdout}\n{stderr}")
        report = json.loads(line.removeprefix("BENCH "))
        errors = sum(report[key] for key in ("connect", "read", "write", "status", "timeout"))
        return WrkResult(
            requests=report["requests"],
            seconds=report["duration_us"] / 1e6,
            p50_ms=report["p50_us"] / 1000,
            p99_ms=report["p99_us"] / 1000,
            errors=errors,
        )


# --- the table ----------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table."""

    name: str
    product: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        """PASS, FAIL or nothing (for figures that have no target)."""
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "FAIL"


@dataclass
class Report:
    """Every row, in the order they are measured."""

    rows: list[Row] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        """Add a row and show it at once, so that a long run shows progress."""
        self.rows.append(row)
        sys.stderr.write(f"bench: {row.name}: {row.product} {row.verdict}".rstrip() + "\n")

    def render(self) -> str:
        """The table as Markdown."""
        header = ("measurement", "product", "baseline", "ratio", "target", "result")
        lines = [header] + [
            (r.name, r.product, r.baseline, r.ratio, r.target, r.verdict) for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

        def fmt(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [fmt(lines[0]), "| " + " | ".join("-" * w for w in widths) + " |"]
        out += [fmt(line) for line in lines[1:]]
        notes = [f"- {r.name}: {r.note}" for r in self.rows if r.note]
        return "\n".join(out + (["", *notes] if notes else []))


def ms(value: float) -> str:
    """Milliseconds, readable."""
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"  # noqa: PLR2004


def mib(value: float) -> str:
    """Bytes as MiB."""
    return f"{value / 2**20:.1f} MiB"


# --- measurements -------------------------------------------------------------------------


def compare_http(
    report: Report, wrk: Wrk, profile: Profile, product: Server, baseline: Server
) -> None:
    """POST /tasks and GET /tasks/{id}: alternate product and baseline, compare medians."""
    status, _, body = http_call(product.port, "POST", "/tasks", SUBMIT_BODY.encode())
    if status != 202:  # noqa: PLR2004
        raise SystemExit(f"bench: product POST /tasks answered {status}: {body[:300]!r}")
    task_id = json.loads(body)["task_id"]
    cases = [
        ("POST /tasks", "/tasks", "/tasks", True),
        ("GET /tasks/{id}", f"/tasks/{task_id}", f"/tasks/{task_id}", False),
    ]
    for label, product_path, baseline_path, post in cases:
        runs: dict[str, list[WrkResult]] = {"product": [], "baseline": []}
        servers = {"product": (product, product_path), "baseline": (baseline, baseline_path)}
        for which, (server, path) in servers.items():
            wrk.run(server.url(path), profile.warmup, post=post)
            if which == "product":
                server.wait_idle()
        for round_index in range(profile.rounds):
            order = ["product", "baseline"] if round_index % 2 == 0 else ["baseline", "product"]
            for which in order:
                server, path = servers[which]
                runs[which].append(wrk.run(server.url(path), profile.duration, post=post))
                product.wait_idle()
        p_rps = statistics.median(r.rps for r in runs["product"])
        b_rps = statistics.median(r.rps for r in runs["baseline"])
        p50 = statistics.median(r.p50_ms for r in runs["product"])
        b50 = statistics.median(r.p50_ms for r in runs["baseline"])
        p99 = statistics.median(r.p99_ms for r in runs["product"])
        b99 = statistics.median(r.p99_ms for r in runs["baseline"])
        errors = sum(r.errors for rs in runs.values() for r in rs)
        rounds = ", ".join(
            f"{p.rps:,.0f}/{b.rps:,.0f}"
            for p, b in zip(runs["product"], runs["baseline"], strict=True)
        )
        key = label.split()[0].lower()
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


def measure_pipeline(report: Report, wrk: Wrk, profile: Profile, logdir: Path) -> None:
    """Submit for a while with TIME_SCALE=0, wait until all ran, count completions per second."""
    with running("pipeline", "taskmanager", product_env(), logdir) as server:
        wrk.run(server.url("/tasks"), profile.warmup, post=True)
        wait_drained(server.port)
        before = len(list_tasks(server.port))
        started = time.time()
        result = wrk.run(server.url("/tasks"), profile.duration, post=True)
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


@dataclass
class PollStats:
    """What the long-poll clients saw."""

    in_flight: int = 0
    peak_in_flight: int = 0
    finish_delays: list[float] = field(default_factory=list)
    start_delays: list[float] = field(default_factory=list)
    answered_at_once: int = 0
    failures: int = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(None, 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, await reader.readexactly(length)


async def _submit_many(port: int, count: int, connections: int = 32) -> list[str]:
    """POST ``count`` tasks over keep-alive connections; their ids in submission order."""
    ids: list[str | None] = [None] * count
    body = SUBMIT_BODY.encode()
    request = (
        b"POST /tasks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    cursor = iter(range(count))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for index in cursor:
                writer.write(request)
                status, reply = await _read_response(reader)
                if status != 202:  # noqa: PLR2004
                    raise SystemExit(f"bench: POST /tasks answered {status}: {reply[:200]!r}")
                ids[index] = json.loads(reply)["task_id"]
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return [task_id for task_id in ids if task_id is not None]


async def _long_poll(
    port: int, task_id: str, stats: PollStats, connects: asyncio.Semaphore
) -> None:
    """Hold ``?wait=true`` on one task until it is terminal, re-polling after each change."""
    async with connects:
        reader, writer = await asyncio.open_connection(HOST, port)
    request = f"GET /tasks/{task_id}?wait=true HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    try:
        while True:
            sent = time.time()
            writer.write(request)
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            try:
                status, body = await _read_response(reader)
            finally:
                stats.in_flight -= 1
            arrived = time.time()
            if status != 200:  # noqa: PLR2004
                stats.failures += 1
                return
            task = json.loads(body)
            changed_at = task["finished_at"] or task["started_at"]
            moment = timestamp(changed_at) if changed_at else None
            if moment is None or moment < sent:
                stats.answered_at_once += 1  # nothing to wait for: not a wake-up
            elif task["status"] in TERMINAL:
                stats.finish_delays.append(arrived - moment)
            else:
                stats.start_delays.append(arrived - moment)
            if task["status"] in TERMINAL:
                return
    finally:
        writer.close()


def measure_long_polls(report: Report, wrk: Wrk, profile: Profile, logdir: Path) -> None:
    """N tasks, one long-poller each, all held, then the tasks complete one after another.

    Tasks take 5 ms each (TIME_SCALE=0.001) on the five workers. Filler tasks queued ahead
    of the polled ones keep the workers busy while the N long-polls are opened, so the
    polls are all held at once before their tasks start; then each wakes when its task
    starts (and re-polls) and when it completes. The delay is the response's arrival
    minus the task's ``started_at``/``finished_at``; both clocks are this machine's.
    """
    count = profile.longpoll_tasks
    scale = 0.001
    per_second = 1 / scale  # five workers, 5 s x scale each
    hold = max(2.0, count / 800)  # time to submit and open the polls, with a margin
    fillers = round(hold * per_second)
    env = product_env(time_scale=scale, long_poll_timeout=600)
    with running("long-poll", "taskmanager", env, logdir) as server:
        wrk.submit(server.url("/tasks"), fillers)
        ids = asyncio.run(_submit_many(server.port, count))
        stats = PollStats()
        before = server.rss()

        async def poll_all() -> None:
            connects = asyncio.Semaphore(256)
            await asyncio.gather(*(_long_poll(server.port, i, stats, connects) for i in ids))

        with MemorySampler(server.pid, every=0.02) as sampler:
            _run_uvloop(poll_all())
        growth = sampler.peak - before
    finish = sorted(stats.finish_delays)
    if not finish:
        raise SystemExit("bench: no long-poll saw its task complete")
    p50, p99 = percentile(finish, 50) * 1000, percentile(finish, 99) * 1000
    wakes = sorted(stats.finish_delays + stats.start_delays)
    note = (
        f"{count:,} tasks, {stats.peak_in_flight:,} polls held at once at the peak; "
        f"{len(finish):,} woke on completion, {len(stats.start_delays):,} on start "
        f"(all wake-ups: p50 {ms(percentile(wakes, 50) * 1000)}, "
        f"p99 {ms(percentile(wakes, 99) * 1000)}); {stats.answered_at_once:,} answered at once"
        + (f"; {stats.failures} failed" if stats.failures else "")
    )
    with running("long-poll baseline", "bench.baseline", {}, logdir) as baseline:
        floor = _run_uvloop(_hold_long_polls(baseline, count))
    note += (
        "; baseline: the same number of ?wait=true requests held by a hand-written FastAPI "
        "endpoint that only sleeps (uvicorn's own cost per connection and request included)"
    )
    report.figures |= {"longpoll_growth": growth, "longpoll_p50_ms": p50, "longpoll_p99_ms": p99}
    report.add(
        Row(
            f"{count:,} long-polls: server memory growth",
            mib(growth),
            baseline=mib(floor),
            ratio=f"{growth / floor:.2f}x" if floor > 0 else "",
            target="< 100 MiB",
            passed=growth < 100 * 2**20 and stats.failures == 0,
            note=note,
        )
    )
    report.add(Row("long-poll wake-up after completion, p50", ms(p50)))
    report.add(
        Row("long-poll wake-up after completion, p99", ms(p99), target="< 100 ms", passed=p99 < 100)  # noqa: PLR2004
    )


async def _hold_long_polls(server: Server, count: int) -> int:
    """Open ``count`` long-polls on the baseline and hold them; the server's peak RSS growth."""
    before = server.rss()
    connects = asyncio.Semaphore(256)
    request = f"GET /tasks/{uuid.uuid4()}?wait=true HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    writers: list[asyncio.StreamWriter] = []

    async def hold() -> None:
        async with connects:
            _, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(request)
        await writer.drain()
        writers.append(writer)

    with MemorySampler(server.pid, every=0.02) as sampler:
        await asyncio.gather(*(hold() for _ in range(count)))
        await asyncio.sleep(2)  # let the server read every request and start every handler
    for writer in writers:
        writer.close()
    return sampler.peak - before


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of sorted values."""
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _run_uvloop(coroutine: Any) -> Any:  # noqa: ANN401
    try:
        import uvloop  # noqa: PLC0415 - optional, as in uvicorn

        factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coroutine)


def measure_store(report: Report, wrk: Wrk, profile: Profile, logdir: Path) -> None:
    """Memory per stored completed task, then GET /tasks over all of them."""
    count = profile.list_tasks
    with running("store", "taskmanager", product_env(), logdir) as server:
        wrk.submit(server.url("/tasks"), 2000)  # warm every code path
        wait_drained(server.port)
        time.sleep(0.5)
        before_count = len(list_tasks(server.port))
        before = server.rss()
        wrk.submit(server.url("/tasks"), count)
        wait_drained(server.port)
        time.sleep(0.5)
        after = server.rss()
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
            server.reset_peak()
            start_rss = server.rss()
            with MemorySampler(server.pid) as sampler:
                first, whole, size = timed_get(server.port, "/tasks")
            peak = max(sampler.peak, proc_status(server.pid, "VmHWM"))
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


def timed_get(port: int, path: str) -> tuple[float, float, int]:
    """Seconds to the first response byte and to the last, and the bytes received."""
    with socket.create_connection((HOST, port), timeout=300) as sock:
        start = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        chunk = sock.recv(1 << 20)
        first = time.perf_counter() - start
        size = len(chunk)
        while chunk := sock.recv(1 << 20):
            size += len(chunk)
        return first, time.perf_counter() - start, size


def measure_ask(report: Report, profile: Profile) -> None:
    """Round trip of ``Actor.ask`` to a trivial actor, in process, on uvloop as served."""
    from taskmanager.actors.runtime import Actor, Request, Supervisor  # noqa: PLC0415

    class Ping(Request[int]):
        __slots__ = ()

    class Echo(Actor):
        async def receive(self, message: object) -> int:  # noqa: ARG002
            return 1

    async def bench() -> list[float]:
        actor = Echo("echo")
        actor.start(Supervisor())
        ping = Ping()
        batch = max(1000, profile.ask_count // 5)
        timings = []
        try:
            for _ in range(6):  # the first batch warms up and is dropped
                start = time.perf_counter()
                for _ in range(batch):
                    await actor.ask(ping)
                timings.append((time.perf_counter() - start) / batch * 1e6)
        finally:
            await actor.stop()
        return timings[1:]

    micros = statistics.median(_run_uvloop(bench()))
    report.figures["ask_us"] = micros
    report.add(
        Row(
            "actor ask round trip",
            f"{micros:.1f} us",
            target="< 20 us",
            passed=micros < 20,  # noqa: PLR2004
            note="sequential asks to an actor that replies at once, uvloop; median of 5 batches",
        )
    )


# --- main ---------------------------------------------------------------------------------

SECTIONS = ("http", "pipeline", "longpoll", "store", "ask")
TARGETS_MISSED = 3  # the table was printed but a target was missed; 1 means the harness failed


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table; 0 when every target is met, else 3."""
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 1 s per measurement")
    parser.add_argument("--duration", type=float, help="seconds per wrk measurement")
    parser.add_argument("--rounds", type=int, help="alternating rounds per HTTP figure")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.duration or args.rounds:
        profile = Profile(
            duration=args.duration or profile.duration,
            rounds=args.rounds or profile.rounds,
            warmup=min(profile.warmup, args.duration or profile.duration),
            longpoll_tasks=profile.longpoll_tasks,
            list_tasks=profile.list_tasks,
            ask_count=profile.ask_count,
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
        if "http" in sections:
            with (
                running("product", "taskmanager", product_env(), workdir) as product,
                running("baseline", "bench.baseline", {}, workdir) as baseline,
            ):
                compare_http(report, wrk, profile, product, baseline)
        if "pipeline" in sections:
            measure_pipeline(report, wrk, profile, workdir)
        if "longpoll" in sections:
            measure_long_polls(report, wrk, profile, workdir)
        if "store" in sections:
            measure_store(report, wrk, profile, workdir)
        if "ask" in sections:
            measure_ask(report, profile)
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
    return 0 if all(row.passed is not False for row in report.rows) else TARGETS_MISSED


if __name__ == "__main__":
    sys.exit(main())
