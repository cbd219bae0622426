"""Serve a peer's app with the uvicorn options ``python -m taskmanager`` uses."""

from __future__ import annotations

import argparse

import uvicorn


def serve(app: str) -> None:
    """``--host`` and ``--port`` from the command line; the app by its import path."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        factory=True,
        host=args.host,
        port=args.port,
        timeout_graceful_shutdown=10,
        proxy_headers=False,
        log_level="info",  # the access log on, as the product and the baseline have it
    )
