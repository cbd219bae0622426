"""The benchmark: Task Manager against a hand-written FastAPI baseline (python -m bench.run).

- ``run``: the command line; runs the benchmarks and prints the table
- ``benchmarks/``: one module per benchmark, listed in the order they run
- ``harness``: what a benchmark gets: the profile, the server factory, its signature
- ``server``: server processes on free ports (the load test and the tests use it too)
- ``wrk``, ``client``, ``tasks``: load from wrk, raw HTTP, the product's /tasks calls
- ``sampler``, ``report``: /proc readings (memory, CPU per process and for the whole
  machine), and the table with its formatting
- ``redisstats``: what a redis-server says it did (INFO, the slow log), per task
- ``baseline``: the hand-written FastAPI app the product is compared with
"""
