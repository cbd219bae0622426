"""The load test: ``python loadtest/run.py`` (``./run.sh loadtest``); not part of the test run."""
