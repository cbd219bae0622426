"""/stats and /metrics: the figures for people and for Prometheus."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import FakeClock, settle, submit, sum_of

# Every test here runs on both backends: in memory, and on Redis.
pytestmark = pytest.mark.backends("memory", "redis")


async def test_stats_report_queue_workers_counts_and_completions(client, clock: FakeClock):
    for _ in range(7):
        await submit(client)
    await settle()
    stats = (await client.get("/stats")).json()
    assert stats["queue_depth"] == 2
    assert stats["workers"] == {"total": 5, "busy": 5, "idle": 0}
    assert stats["counts"]["queued"] == 2
    assert stats["counts"]["processing"] == 5
    await clock.advance(10)
    stats = (await client.get("/stats")).json()
    assert stats["counts"]["completed"] == 7
    assert len(stats["completed_per_minute"]) == 10
    assert sum(minute["count"] for minute in stats["completed_per_minute"]) == 7
    assert stats["workers"]["busy"] == 0


async def test_metrics_parse_as_prometheus_text(client, clock: FakeClock):
    await submit(client)
    await submit(client, {"task_type": "simulate_error"})
    await clock.advance(5)
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["taskmanager_queue_depth"].type == "gauge"
    finished = {s.labels["status"]: s.value for s in families["taskmanager_tasks_finished"].samples}
    assert finished == {"completed": 1, "failed": 1, "cancelled": 0}
    assert families["taskmanager_tasks_finished"].type == "counter"
    kept = {s.labels["status"]: s.value for s in families["taskmanager_tasks"].samples}
    assert kept["completed"] == 1
    workers = {s.labels["state"]: s.value for s in families["taskmanager_workers"].samples}
    assert workers == {"busy": 0, "idle": 5}


@pytest.mark.parametrize("path", ["/stats", "/metrics"])
async def test_stats_do_not_count_against_the_limit(make_client, path):
    client = await make_client(rate_limit="1/minute")
    for _ in range(3):
        assert (await client.get(path)).status_code == 200


async def test_metrics_count_retries_and_timed_out_attempts(client, clock: FakeClock):
    await submit(client, sum_of(1, timeout=1, max_retries=1))
    await clock.advance(1)  # the first attempt times out and waits for its retry
    families = {
        f.name: f for f in text_string_to_metric_families((await client.get("/metrics")).text)
    }
    assert families["taskmanager_retries"].samples[0].value == 1
    assert families["taskmanager_attempt_timeouts"].samples[0].value == 1
    stats = (await client.get("/stats")).json()
    assert stats["counts"]["queued"] == 1  # waiting for the retry
    assert stats["queue_depth"] == 1


async def test_completions_leave_the_minutes_window_and_stay_in_the_total(
    make_client, clock: FakeClock
):
    client = await make_client(result_ttl=10**6)
    for _ in range(3):
        await submit(client)
    await clock.advance(10)
    await clock.jump(60 * 12)  # past the ten minutes /stats shows, then a sweep
    await submit(client)
    await clock.advance(10)
    stats = (await client.get("/stats")).json()
    assert [minute["count"] for minute in stats["completed_per_minute"]] == [0] * 9 + [1]
    assert stats["counts"]["completed"] == 4
    families = {
        f.name: f for f in text_string_to_metric_families((await client.get("/metrics")).text)
    }
    finished = {s.labels["status"]: s.value for s in families["taskmanager_tasks_finished"].samples}
    assert finished["completed"] == 4
