"""The janitor: on a timer, removes expired tasks and forgets idle rate-limit clients."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from taskmanager.actors.clock import Clock
from taskmanager.actors.messages import PruneIdle, SweepExpired
from taskmanager.actors.runtime import Actor, ActorStoppedError

SWEEP_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


class Janitor(Actor):
    """Every ``interval`` seconds, tells the store to sweep and the limiter to prune."""

    def __init__(
        self, *, store: Actor, limiter: Actor, clock: Clock, interval: float = SWEEP_INTERVAL
    ) -> None:
        super().__init__("janitor")
        self._store = store
        self._limiter = limiter
        self._clock = clock
        self._interval = interval
        self._timer: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        """Start the timer that ticks the janitor."""
        self._timer = asyncio.create_task(self._tick_forever(), name="janitor:timer")

    async def _tick_forever(self) -> None:
        while True:
            await self._clock.sleep(self._interval)
            with contextlib.suppress(ActorStoppedError):
                self.tell(_Tick())

    async def receive(self, message: Any) -> Any:  # noqa: ANN401
        """Sweep and prune on every tick."""
        match message:
            case _Tick():
                self._store.tell(SweepExpired())
                self._limiter.tell(PruneIdle())
            case _:
                raise TypeError(f"janitor got an unknown message {message!r}")

    async def on_stop(self) -> None:
        """Stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.wait({self._timer})
