"""What a task costs the replicas that do not run it, and the one that does: each replica's
share of Redis grows with its own work, not with the service's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_sync
from conftest import REDIS_PORTS
from support import settle, submit, sum_of

from bench.server import redis_server


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A redis-server of the test's own: its counters count this test's replicas alone."""
    with redis_server(tmp_path, ports=REDIS_PORTS) as server:
        yield f"redis://127.0.0.1:{server.port}/0"


def claims(redis_url: str) -> int:
    """Claims that looked at the ready tasks (each pops from them once, found or not, with
    no delayed task to make ready)."""
    client = redis_sync.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return int(stats.get("cmdstat_zpopmin", {}).get("calls", 0))


async def test_a_worker_that_frees_while_others_wait_for_work_claims_nothing(
    make_client, redis_url
):
    """Tasks submitted one at a time to replicas whose workers all wait for work.

    A task costs its replica one claim that takes it, and one that finds the queue empty
    for its other idle workers (then they wait for the doorbell); the worker that ran it
    goes back to waiting without looking again, as do the replicas that took nothing.
    """
    # Instant tasks on a clock that stands still: no timer looks at the queue.
    replicas = [await make_client(workers=3, time_scale=0) for _ in range(3)]
    await settle()
    before = claims(redis_url)
    tasks = 12
    for number in range(tasks):
        task_id = await submit(replicas[number % 3], sum_of(number))
        await settle()
        status = (await replicas[0].get(f"/tasks/{task_id}")).json()["status"]
        assert status == "completed"
    assert claims(redis_url) - before == 2 * tasks
