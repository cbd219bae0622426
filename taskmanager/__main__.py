"""``python -m taskmanager``: check the configuration, then serve the API with uvicorn."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from taskmanager.config import ConfigurationError, load_settings


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, check the settings and run the server."""
    parser = argparse.ArgumentParser(prog="taskmanager", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        sys.exit(f"taskmanager: {exc}")
    uvicorn.run(
        "taskmanager.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        reload_dirs=["taskmanager"] if args.reload else None,
        # Streams and long-polls are answered by the app itself; this bounds the rest.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_grace)),
        proxy_headers=False,  # X-Forwarded-For is judged by the rate limiter's trusted proxies
        log_level="info",
    )


if __name__ == "__main__":
    main()
