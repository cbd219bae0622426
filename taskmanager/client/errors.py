"""What the client raises: one class per answer a caller handles differently.

Each carries the server's ``detail``. Their names are the HTTP answers they stand for
(``NotFound``, not ``NotFoundError``), as the ones callers already know from other clients.
"""

from __future__ import annotations

from taskmanager.actors.model import Task


class TaskManagerError(Exception):
    """Anything the client could not do; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unreachable(TaskManagerError):  # noqa: N818 - named after what happened
    """No answer from the service: it refused the connection, dropped it or timed out."""

    def __init__(self, detail: str, *, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.timed_out = timed_out


class APIError(TaskManagerError):
    """The service answered with an error; ``status_code`` is its HTTP status."""

    def __init__(self, detail: str, *, status_code: int) -> None:
        super().__init__(detail)
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"


class BadRequest(APIError):  # noqa: N818 - the HTTP answer's name
    """400 (and 413, 415): the request was wrong; ``detail`` names the field."""


class Unauthorized(APIError):  # noqa: N818 - the HTTP answer's name
    """401: the API key is missing or not accepted."""


class NotFound(APIError):  # noqa: N818 - the HTTP answer's name
    """404: no such task, or it was cleaned up, or it belongs to another key."""


class Conflict(APIError):  # noqa: N818 - the HTTP answer's name
    """409: the task had already finished (``task`` is it), or a key was reused.

    A cancel that came too late carries the finished task; an idempotency key used
    before for another request carries none.
    """

    def __init__(self, detail: str, *, status_code: int = 409, task: Task | None = None) -> None:
        super().__init__(detail, status_code=status_code)
        self.task = task


class RateLimited(APIError):  # noqa: N818 - the HTTP answer's name
    """429: too many requests; ``retry_after`` is how many seconds to wait."""

    def __init__(self, detail: str, *, status_code: int = 429, retry_after: float) -> None:
        super().__init__(detail, status_code=status_code)
        self.retry_after = retry_after


class ServiceUnavailable(APIError):  # noqa: N818 - the HTTP answer's name
    """503: the service is full or shutting down; ``retry_after`` seconds, when it said."""

    def __init__(
        self, detail: str, *, status_code: int = 503, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status_code=status_code)
        self.retry_after = retry_after
