"""What a redis-server says it did: commands run, memory held, CPU and bytes, from INFO.

Commands are counted by INFO commandstats, which counts every command Redis executes,
those a Lua script calls too. Round trips (the commands clients sent) are counted from
the slow log with a threshold of 0 µs: it logs every command, and those a script called
under the address ``?:0``, which are left out. It is switched on only while round trips
are counted, because it costs Redis memory and time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

#: The bench's own commands, left out of every count.
OWN_COMMANDS = frozenset({"info", "config|set", "config|resetstat", "slowlog|get", "memory|usage"})
SLOWLOG_ENTRIES = 1_000_000
#: The name of the bench's own connection: what it sends is no round trip of the product's.
BENCH_CLIENT = "bench"
#: What the product's function names start with, before the script's name.
_FUNCTION = re.compile(r"^taskmanager_[0-9a-f]+_")
#: The address the slow log gives commands that a script called.
SCRIPT_CLIENT = "?:0"


@dataclass(frozen=True)
class Snapshot:
    """Redis's counters at one moment."""

    commands: Counter[str]
    used_memory: int
    cpu_seconds: float
    net_bytes: int
    stream_bytes: int


class RedisStats:
    """A connection to the redis-server under measurement, for its counters."""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(port=port, decode_responses=True, client_name=BENCH_CLIENT)
        # Commands the bench sent to see whether a peer drained, left out of the counts.
        self._polled: Counter[str] = Counter()

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def snapshot(self, stream: str) -> Snapshot:
        """The counters now; ``stream`` is the key of the event log to weigh."""
        info: dict[str, Any] = self.client.info("all")
        commands: Counter[str] = Counter()
        for name, figures in info.items():
            if name.startswith("cmdstat_"):
                command = name.removeprefix("cmdstat_")
                if command not in OWN_COMMANDS:
                    commands[command] = int(figures["calls"]) - self._polled[command]
        stream_bytes = self.client.memory_usage(stream, samples=0) or 0
        return Snapshot(
            commands=commands,
            used_memory=int(info["used_memory"]),
            cpu_seconds=float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            net_bytes=int(info["total_net_input_bytes"]) + int(info["total_net_output_bytes"]),
            stream_bytes=int(stream_bytes),
        )

    def unfinished(self, prefix: str) -> int:
        """Tasks of the service under ``prefix`` that are queued or processing."""
        return self.members(f"{prefix}:idx:queued") + self.running(prefix)

    def members(self, key: str) -> int:
        """ZCARD ``key``, left out of the counts: how many tasks a service has not finished."""
        self._polled["zcard"] += 1
        return int(self.client.zcard(key))

    def running(self, prefix: str) -> int:
        """Tasks the replicas of the service under ``prefix`` run (their running sets)."""
        replicas: list[str] = self.client.zrange(f"{prefix}:replicas", 0, -1)  # type: ignore[assignment]
        self._polled["zrange"] += 1
        self._polled["scard"] += len(replicas)
        return sum(int(self.client.scard(f"{prefix}:running:{r}")) for r in replicas)

    def start_counting_round_trips(self) -> None:
        """Log every command a client sends from now on."""
        self.client.config_set("slowlog-max-len", SLOWLOG_ENTRIES)
        self.client.slowlog_reset()
        self.client.config_set("slowlog-log-slower-than", 0)

    def round_trips(self) -> Counter[str]:
        """The commands clients sent since counting started, by name; counting stops."""
        self.client.config_set("slowlog-log-slower-than", 10_000)
        entries = self.client.slowlog_get(SLOWLOG_ENTRIES)
        self.client.slowlog_reset()
        sent: Counter[str] = Counter()
        for entry in entries:
            if _text(entry.get("client_address", "")) == SCRIPT_CLIENT:
                continue  # called by a script: not a round trip
            if _text(entry.get("client_name", "")) == BENCH_CLIENT:
                continue
            words = _text(entry["command"]).split(" ")
            name = words[0].lower()
            if name == "fcall" and len(words) > 1:
                name = f"script {_FUNCTION.sub('', words[1])}"
            elif name in {"config", "slowlog", "memory"} and len(words) > 1:
                name = f"{name}|{words[1].lower()}"
            if name not in OWN_COMMANDS:
                sent[name] += 1
        return sent


def _text(value: object) -> str:
    """A slow-log field as text (redis-py leaves some as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
