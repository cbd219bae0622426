"""The suite's leak guard (tests/conftest.py) really fails a test that leaves a task behind."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parents[1]

INNER_TESTS = """
import asyncio

from taskmanager.actors.system import ActorSystem


async def test_clean():
    await asyncio.create_task(asyncio.sleep(0))


async def test_leaks_a_task():
    asyncio.create_task(asyncio.Event().wait(), name="forgotten")


async def test_leaves_an_actor_system_running(clock, make_settings):
    await ActorSystem(make_settings(), clock).start()


async def test_uses_the_fixtures_and_cleans_up(client):
    assert (await client.get("/healthz")).status_code == 200
"""


@pytest.mark.slow
def test_the_leak_guard_fails_tests_that_leave_asyncio_tasks_behind(pytester: pytest.Pytester):
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        f"pythonpath = . {TESTS.parent}\n"
    )
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makepyfile(support=(TESTS / "support.py").read_text(), test_inner=INNER_TESTS)
    # The inner run needs pytest-asyncio only: the other plugins would take seconds to load.
    unused = ("cacheprovider", "hypothesispytest", "schemathesis", "xdist", "xdist.looponfail")
    result = pytester.runpytest_subprocess(*(f"-pno:{plugin}" for plugin in unused), "-W", "ignore")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_task*",
            "*asyncio tasks left behind*forgotten*",
            "*ERROR at teardown of test_leaves_an_actor_system_running*",
            "*asyncio tasks left behind*actor:*",
        ]
    )
