"""The peers the Redis backend is measured against: FastAPI + SAQ, FastAPI + arq.

Each is the app a user of that library would write: the same POST body validated by the
same pydantic models as ``bench/baseline.py``, then the job enqueued into the library's
own Redis, with the library's worker running in the same process (as the product's
workers do), as many workers as the product has by default. These modules run in a
separate environment (``bench.peers.env``): the peer libraries are never dependencies of
the product, nor of its development environment.
"""
