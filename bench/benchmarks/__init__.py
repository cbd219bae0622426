"""The benchmarks, one module each, in the order ``python -m bench.run`` runs them.

A new benchmark is a function with the ``Benchmark`` signature (see ``bench.harness``) in
a module here, and one line below; its key becomes a choice of ``--only``.
"""

from __future__ import annotations

from bench.benchmarks.api import compare_with_baseline
from bench.benchmarks.ask import measure_ask
from bench.benchmarks.backlog import measure_delayed_backlog
from bench.benchmarks.crossreplica import measure_cross_replica
from bench.benchmarks.longpoll import measure_long_polls
from bench.benchmarks.peers import measure_peers
from bench.benchmarks.pipeline import measure_pipeline
from bench.benchmarks.processjob import (
    measure_api_while_computing,
    measure_process_job,
    measure_process_task,
)
from bench.benchmarks.rediscost import measure_redis_cost
from bench.benchmarks.replicacost import measure_replica_cost
from bench.benchmarks.scaleout import measure_scale_out
from bench.benchmarks.store import measure_store
from bench.harness import Benchmark

BENCHMARKS: dict[str, Benchmark] = {
    "http": compare_with_baseline,
    "pipeline": measure_pipeline,
    "backlog": measure_delayed_backlog,
    "longpoll": measure_long_polls,
    "store": measure_store,
    "scaleout": measure_scale_out,
    "replica-cost": measure_replica_cost,
    "redis-cost": measure_redis_cost,
    "peers": measure_peers,
    "cross-replica": measure_cross_replica,
    "ask": measure_ask,
    "process-job": measure_process_job,
    "process-task": measure_process_task,
    "process-load": measure_api_while_computing,
}

__all__ = ["BENCHMARKS"]
