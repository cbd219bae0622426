"""wrk, the load generator behind the HTTP figures: found or installed, driven, its report read."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 64
THREADS = 2

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
# For "POST at a fixed rate": each connection waits a random while before each request,
# so that the connections do not fire together; on average they offer the rate asked
# for, as long as the server answers well within the wait (the requests wait, not queue).
WRK_PACED = """
local longest = tonumber(os.getenv("BENCH_LONGEST_WAIT_MS"))
function delay()
  return math.random(0, longest)
end
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
        self.post_paced_script = workdir / "post_paced.lua"
        self.post_paced_script.write_text(WRK_POST + WRK_PACED + WRK_REPORT)

    def run(self, url: str, seconds: float, *, body: str | None = None) -> WrkResult:
        """Drive ``url`` for ``seconds`` (POSTing ``body`` as JSON when given) and report."""
        return self.run_split([url], seconds, body=body)

    def paced(self, url: str, seconds: float, rate: float, body: str) -> WrkResult:
        """POST ``body`` for ``seconds`` at about ``rate`` requests a second.

        Not as fast as the server takes them: fewer if it answers too slowly to keep up.
        """
        # Each connection waits 0 to twice the mean wait between its requests.
        longest = round(2 * 1000 * CONNECTIONS / rate)
        env = {**os.environ, "BENCH_BODY": body, "BENCH_LONGEST_WAIT_MS": str(longest)}
        command = self._command(self.post_paced_script, url, f"-d{max(1, round(seconds))}s")
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        return self._parse(done.returncode, done.stdout, done.stderr)

    def run_split(
        self, urls: Sequence[str], seconds: float, *, body: str | None = None
    ) -> WrkResult:
        """Drive several servers at once, the threads and connections shared out among them.

        One wrk per URL, all started together, so that N servers get the same load
        generator in all as one does. The requests add up; p50 and p99 are the worst of
        the runs' (percentiles of separate runs do not combine exactly).
        """
        if not urls or THREADS % len(urls):
            raise ValueError(f"{THREADS} wrk threads cannot be shared out among {len(urls)}")
        script = self.get_script if body is None else self.post_script
        duration = f"-d{max(1, round(seconds))}s"
        threads, connections = THREADS // len(urls), CONNECTIONS // len(urls)
        env = {**os.environ, "BENCH_BODY": body or ""}
        processes = [
            subprocess.Popen(  # noqa: S603
                self._command(script, url, duration, threads, connections),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for url in urls
        ]
        outputs = [process.communicate() for process in processes]  # every wrk has ended
        results = [
            self._parse(process.returncode, stdout, stderr)
            for process, (stdout, stderr) in zip(processes, outputs, strict=True)
        ]
        return WrkResult(
            requests=sum(r.requests for r in results),
            seconds=max(r.seconds for r in results),
            p50_ms=max(r.p50_ms for r in results),
            p99_ms=max(r.p99_ms for r in results),
            errors=sum(r.errors for r in results),
        )

    def submit(self, url: str, count: int, body: str) -> WrkResult:
        """POST ``body`` about ``count`` times, as fast as the server takes it."""
        marker = self.workdir / "stopped"
        marker.unlink(missing_ok=True)
        env = {
            **os.environ,
            "BENCH_BODY": body,
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

    def _command(
        self,
        script: Path,
        url: str,
        duration: str,
        threads: int = THREADS,
        connections: int = CONNECTIONS,
    ) -> list[str]:
        return [
            self.binary,
            f"-t{threads}",
            f"-c{connections}",
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
