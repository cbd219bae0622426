"""The load test: ``python -m loadtest.run`` (``./run.sh loadtest``); not part of the test run."""
