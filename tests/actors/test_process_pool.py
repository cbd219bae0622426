import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import processjobs
import pytest
from support import gone

from taskmanager.actors.processes import (
    PoolClosedError,
    ProcessJobError,
    ProcessPool,
    ProcessPoolRunner,
)

# A job's process is gone once it is neither running nor a zombie left unreaped.
GONE_WITHIN = 1.0


def process_name(pid: int) -> str:
    """The name ps -o comm, top and pgrep show."""
    return Path(f"/proc/{pid}/comm").read_text().strip()


def wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(scope="module")
def pool():
    """Two slots shared by the module's tests: each spawn costs a new interpreter."""
    pool = ProcessPool(2)
    pool.start()
    yield pool
    asyncio.run(pool.close())


def ignore(_: float) -> None:
    pass


class Progress:
    """Records the fractions a job reports; tests wait on it instead of sleeping."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.times: list[float] = []
        self.first = asyncio.Event()

    def __call__(self, fraction: float) -> None:
        self.values.append(fraction)
        self.times.append(time.monotonic())
        self.first.set()


async def test_a_job_runs_in_a_child_process_with_validated_parameters_and_a_context(pool):
    result = await pool.run(("processjobs", "whoami"), {}, "t-1", 2, ignore)
    assert result == {
        "pid": result["pid"],
        "task_id": "t-1",
        "attempt": 2,
        "cancelled": False,
        "params": "Nothing",
        "niceness": result["niceness"],
    }
    assert result["pid"] != os.getpid()
    assert result["pid"] in pool.pids


async def test_a_job_computes_at_a_lower_priority_than_the_service(pool):
    # So that the API's process keeps a core's attention while every job computes.
    result = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    assert result["niceness"] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)


async def test_a_jobs_process_is_named_so_that_ps_and_top_can_tell_it_apart(pool):
    # Otherwise it shows as one more "python" among every pool on the machine.
    result = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    assert process_name(result["pid"]) == "taskmanager-job"


async def test_the_result_comes_back_as_json(pool):
    assert await pool.run(("processjobs", "add"), {"values": [1, 2, 3]}, "t", 1, ignore) == 6


async def test_an_async_job_runs_in_the_process_too(pool):
    assert await pool.run(("processjobs", "add_async"), {"values": [4, 5]}, "t", 1, ignore) == 9


async def test_a_child_is_reused_for_the_next_job(pool):
    first = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    second = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    assert first["pid"] == second["pid"]


async def test_parameters_that_do_not_validate_fail_the_job_not_the_child(pool):
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "add"), {"values": []}, "t", 1, ignore)
    assert failed.value.kind == "raised"
    assert failed.value.error_type == "ValidationError"
    assert "values" in failed.value.message
    assert not failed.value.retryable


async def test_an_exception_is_reported_by_class_name_and_message(pool):
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "fail"), {"kind": "key"}, "t", 1, ignore)
    assert (failed.value.error_type, failed.value.message) == ("KeyError", "'missing'")
    assert not failed.value.retryable


async def test_an_exception_of_a_class_in_retry_on_is_retryable(pool):
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "fail"), {"kind": "retryable"}, "t", 1, ignore)
    assert failed.value.error_type == "FlakyNetworkError"
    assert failed.value.message == "the network went away"
    assert failed.value.retryable


@pytest.mark.parametrize("kind", ["not_json", "nan"])
async def test_a_result_that_is_not_json_is_a_bad_result(pool, kind):
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "fail"), {"kind": kind}, "t", 1, ignore)
    assert failed.value.error_type == "bad_result"
    assert not failed.value.retryable


async def test_a_job_that_cannot_be_imported_fails_with_the_import_error(pool):
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "no_such_job"), {}, "t", 1, ignore)
    assert failed.value.error_type == "AttributeError"


@pytest.mark.parametrize(
    ("kind", "how"),
    [("exit", "exit status 3"), ("segfault", "SIGSEGV"), ("oom_killed", "SIGKILL")],
)
async def test_a_process_that_dies_is_a_retryable_crash_and_is_replaced(pool, kind, how):
    before = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    with pytest.raises(ProcessJobError) as failed:
        await pool.run(("processjobs", "fail"), {"kind": kind}, "t", 1, ignore)
    assert failed.value.error_type == "crash"
    assert how in failed.value.message
    assert failed.value.retryable
    assert gone(before["pid"])
    after = await pool.run(("processjobs", "whoami"), {}, "t", 1, ignore)
    assert after["pid"] != before["pid"]


@pytest.mark.serial
@pytest.mark.parametrize("job", ["spin_forever", "spin_ignoring_sigterm"])
async def test_cancelling_a_job_kills_its_process_within_a_second(pool, tmp_path, job):
    pid_file = tmp_path / "pid"
    progress = Progress()
    running = asyncio.create_task(
        pool.run(("processjobs", job), {"path": str(pid_file)}, "t", 1, progress)
    )
    await asyncio.wait_for(progress.first.wait(), 5)
    pid = int(pid_file.read_text())
    started = time.monotonic()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert time.monotonic() - started < GONE_WITHIN
    assert gone(pid)
    assert pid not in pool.pids
    again = await pool.run(("processjobs", "add"), {"values": [1]}, "t", 1, ignore)
    assert again == 1


async def test_a_timeout_around_a_job_kills_its_process(pool, tmp_path):
    pid_file = tmp_path / "pid"
    progress = Progress()

    async def with_deadline() -> None:
        async with asyncio.timeout(None) as deadline:
            job = pool.run(
                ("processjobs", "spin_forever"), {"path": str(pid_file)}, "t", 1, progress
            )
            running = asyncio.ensure_future(job)
            await progress.first.wait()
            deadline.reschedule(asyncio.get_running_loop().time())
            await running

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(with_deadline(), 5)
    assert gone(int(pid_file.read_text()))


@pytest.mark.serial
async def test_progress_reaches_the_parent_within_100_ms_while_the_job_computes(pool, tmp_path):
    stamp = tmp_path / "stamp"
    progress = Progress()
    running = asyncio.create_task(
        pool.run(("processjobs", "report_then_compute"), {"path": str(stamp)}, "t", 1, progress)
    )
    try:
        await asyncio.wait_for(progress.first.wait(), 5)
        reported = float(stamp.read_text())
        assert progress.values == [0.25]
        assert progress.times[0] - reported < 0.1
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_frequent_progress_is_coalesced_and_the_last_value_arrives(pool):
    progress = Progress()
    started = time.monotonic()
    count = await pool.run(("processjobs", "many_reports"), {"count": 50_000}, "t", 1, progress)
    elapsed = time.monotonic() - started
    assert count == 50_000
    assert progress.values[-1] == 1.0
    # At most one report every 20 ms, plus the last one flushed before the result.
    assert len(progress.values) <= elapsed / 0.02 + 2
    assert progress.values == sorted(progress.values)


async def test_no_more_than_size_processes_run_jobs_at_once(pool):
    jobs = [pool.run(("processjobs", "whoami"), {}, "t", 1, ignore) for _ in range(6)]
    pids = {result["pid"] for result in await asyncio.gather(*jobs)}
    assert len(pids) <= pool.size
    assert len(pool.pids) <= pool.size


@pytest.mark.serial
@pytest.mark.slow  # starts a pool of its own
async def test_closing_the_pool_ends_every_child_even_one_running_a_job(tmp_path):
    pool = ProcessPool(2)
    pool.start()
    idle_pids = set(pool.pids)
    pid_file = tmp_path / "pid"
    progress = Progress()
    running = asyncio.create_task(
        pool.run(("processjobs", "spin_forever"), {"path": str(pid_file)}, "t", 1, progress)
    )
    await asyncio.wait_for(progress.first.wait(), 5)
    started = time.monotonic()
    await pool.close()
    assert time.monotonic() - started < 2
    with pytest.raises(PoolClosedError):
        await running
    for pid in idle_pids | {int(pid_file.read_text())}:
        assert gone(pid)
    with pytest.raises(PoolClosedError):
        await pool.run(("processjobs", "add"), {"values": [1]}, "t", 1, ignore)


ORPHANED = """
import asyncio, sys
from pathlib import Path
from taskmanager.actors.processes import ProcessPool

async def main():
    pool = ProcessPool(2)
    pool.start()
    started = asyncio.Event()
    job = asyncio.ensure_future(pool.run(
        ("processjobs", "spin_forever"), {"path": sys.argv[1]}, "t", 1, lambda _: started.set()
    ))
    await started.wait()
    print(*pool.pids, flush=True)
    await job

asyncio.run(main())
"""


@pytest.mark.serial
@pytest.mark.slow  # starts a pool of its own
def test_children_do_not_outlive_a_parent_killed_with_sigkill(tmp_path):
    parent = subprocess.Popen(  # noqa: S603 - this interpreter, the script above
        [sys.executable, "-c", ORPHANED, str(tmp_path / "pid")],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2  # one idle, one computing
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    for pid in pids:
        assert wait_until_gone(pid, 2), f"process {pid} outlived its parent"


class JobContext:
    """The worker's side of a job's context: what the runner reads, and progress seen."""

    def __init__(self) -> None:
        self.task_id = uuid.uuid4()
        self.attempt = 3
        self.dependencies: dict[uuid.UUID, object] = {}
        self.progress_seen: list[float] = []

    def progress(self, fraction: float) -> None:
        self.progress_seen.append(fraction)


def snake_case(error: BaseException) -> str:
    """The error type the worker makes of an exception: its class name in snake_case."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(error).__name__).lower()


@pytest.fixture(scope="module")
def runner(pool):
    return ProcessPoolRunner(pool)


async def test_the_runner_runs_a_declared_task_type_with_its_context(runner):
    ctx = JobContext()
    spec = processjobs.flaky.__task_type__
    result = await runner.run(spec, processjobs.Flaky(), ctx)
    assert result == {"task_id_type": "UUID", "logger": "taskmanager.jobs.flaky"}
    assert ctx.progress_seen == [0.5]


@pytest.mark.parametrize(
    ("fail_with", "error_type", "retryable"),
    [
        ("value", "value_error", True),
        ("key", "key_error", False),
        ("exit", "crash", True),
        ("set", "bad_result", False),
    ],
)
async def test_the_runner_raises_what_names_the_error_and_says_if_it_is_retried(
    runner, fail_with, error_type, retryable
):
    spec = processjobs.flaky.__task_type__
    with pytest.raises(ProcessJobError) as failed:
        await runner.run(spec, processjobs.Flaky(fail_with=fail_with), JobContext())
    assert snake_case(failed.value) == error_type
    assert failed.value.retryable is retryable


@pytest.mark.serial
@pytest.mark.slow  # starts a pool of its own
async def test_large_parameters_to_a_child_still_starting_do_not_block_the_event_loop():
    pool = ProcessPool(1)
    try:
        pool.start()  # the child boots for a few hundred ms: it reads nothing meanwhile
        gaps: list[float] = []
        ticking = asyncio.Event()
        done = asyncio.Event()

        async def tick() -> None:
            last = time.monotonic()
            ticking.set()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await ticking.wait()  # measuring before the job goes
        text = "x" * 4_000_000
        try:
            assert await pool.run(("processjobs", "length"), {"text": text}, "t", 1, ignore) == len(
                text
            )
        finally:
            done.set()
            await ticker
        assert max(gaps) < 0.1, f"the event loop stalled for {max(gaps):.3f} s"
    finally:
        await pool.close()


@pytest.mark.serial
@pytest.mark.slow  # starts a pool of its own
async def test_a_job_cancelled_while_its_large_parameters_are_sent_is_killed_at_once():
    pool = ProcessPool(1)
    try:
        pool.start()
        (pid,) = pool.pids
        running = asyncio.create_task(
            pool.run(("processjobs", "length"), {"text": "x" * 4_000_000}, "t", 1, ignore)
        )
        await asyncio.sleep(0.05)  # the request is on its way; the child still boots
        started = time.monotonic()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert time.monotonic() - started < GONE_WITHIN
        assert gone(pid)
    finally:
        await pool.close()
