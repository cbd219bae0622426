"""The two phases of ./run.sh test: every test runs in exactly one of them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
# The inner runs need pytest-asyncio only: the other plugins would take seconds to load.
UNUSED_PLUGINS = ("cacheprovider", "hypothesispytest", "schemathesis", "xdist", "xdist.looponfail")

MARKED = """
import pytest


@pytest.mark.serial
def test_alone():
    pass


def test_beside_the_others():
    pass
"""

UNMARKED = """
def test_beside_the_others_too():
    pass
"""

# Marked serial without the words the serial phase looks for in a module's text.
HIDDEN = """
from pytest import mark


@mark.serial
def test_alone_too():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\n"
        "asyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
        f"pythonpath = . {TESTS.parent}\n"
        "markers =\n    serial: alone\n    slow: slow\n"
    )
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    pytester.makepyfile(
        support=(TESTS / "support.py").read_text(), test_marked=MARKED, test_unmarked=UNMARKED
    )
    return pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    # In this process (a new one would take seconds to start): the inner conftest must not
    # be taken for this suite's, which is imported under the same name.
    with pytest.MonkeyPatch.context() as patch:
        patch.delitem(sys.modules, "conftest")
        return suite.runpytest_inprocess(*(f"-pno:{plugin}" for plugin in UNUSED_PLUGINS), *args)


@pytest.mark.slow
def test_the_phases_split_the_tests_and_the_serial_one_imports_only_modules_marking_some(suite):
    run(suite, "--phase=parallel").assert_outcomes(passed=2, deselected=1)
    serial = run(suite, "--phase=serial", "-v")
    serial.assert_outcomes(passed=1, deselected=1)
    serial.stdout.fnmatch_lines(["*test_marked.py::test_alone PASSED*"])
    serial.stdout.no_fnmatch_line("*test_unmarked*")


@pytest.mark.slow
def test_a_serial_test_the_serial_phase_would_not_find_stops_the_parallel_phase(suite):
    suite.makepyfile(test_hidden=HIDDEN)
    result = run(suite, "--phase=parallel")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_hidden.py::test_alone_too is serial*pytest.mark.serial*"])
