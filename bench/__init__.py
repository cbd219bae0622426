"""The benchmark: Task Manager against a hand-written FastAPI baseline (python -m bench.run)."""
