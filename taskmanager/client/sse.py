"""Server-Sent Events read line by line, as the WHATWG specification says a browser does.

No I/O: the clients feed it the lines of a response, and it keeps the last event id
and the reconnection delay across messages, so they survive a reconnection too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched message: its ``event`` name (``message`` when none) and ``data``."""

    event: str
    data: str
    id: str | None


class SSEDecoder:
    """Turns lines into messages; ``last_event_id`` and ``retry`` persist across messages."""

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        #: Seconds the server asked a client to wait before reconnecting, if it said.
        self.retry: float | None = None
        self._event = ""
        self._data: list[str] = []

    def discard_partial(self) -> None:
        """Forget a message cut off by a dropped connection."""
        self._event = ""
        self._data = []

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (without its end); return a message when a blank line ends one."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            message = ServerSentEvent(
                self._event or "message", "\n".join(self._data), self.last_event_id
            )
            self.discard_partial()
            return message
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive ping
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        match name:
            case "event":
                self._event = value
            case "data":
                self._data.append(value)
            case "id" if "\0" not in value:
                self.last_event_id = value
            case "retry" if value.isascii() and value.isdigit():
                self.retry = int(value) / 1000
            case _:
                pass  # the specification says to ignore any other field
        return None
