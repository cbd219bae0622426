"""One settings object: every ``TASKMANAGER_*`` variable is parsed and checked here."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import DirectoryPath, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from taskmanager.extras import install_command
from taskmanager.jobs import TaskTypeError, TaskTypes, load_task_types
from taskmanager.keys import KeyRing, load_keys

#: The modules whose task types exist when TASKMANAGER_TASKS is not set.
DEFAULT_TASKS = ("taskmanager.demo",)

type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_WINDOWS = {"second": 1, "minute": 60, "hour": 3600}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` per sliding ``window`` seconds."""

    requests: int
    window: int

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read ``N/second``, ``N/minute`` or ``N/hour``."""
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"expected N/second, N/minute or N/hour, got {text!r}")
        requests = int(match[1])
        if requests < 1:
            raise ValueError("the limit must allow at least 1 request")
        return cls(requests, _WINDOWS[match[2]])

    def __str__(self) -> str:
        unit = next(name for name, seconds in _WINDOWS.items() if seconds == self.window)
        return f"{self.requests}/{unit}"


class Settings(BaseSettings):
    """The service's configuration, read from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="TASKMANAGER_", frozen=True, extra="ignore", arbitrary_types_allowed=True
    )

    time_scale: float = Field(default=1.0, ge=0, le=1000, allow_inf_nan=False)
    # 0: an API-only replica, which leaves the tasks to worker processes (Redis only).
    workers: int = Field(default=5, ge=0, le=1000)
    rate_limit: Annotated[RateLimit, NoDecode] = RateLimit(10, 60)
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    result_ttl: float = Field(default=600, gt=0, allow_inf_nan=False)
    long_poll_timeout: float = Field(default=10, gt=0, le=3600, allow_inf_nan=False)
    max_tasks: int = Field(default=100_000, ge=1)
    # Mebibytes of parameters and results (as JSON) the in-memory store keeps at most.
    max_store_mb: int = Field(default=512, ge=1, le=1_048_576)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ("*",)
    shutdown_grace: float = Field(default=10, ge=0, le=3600, allow_inf_nan=False)
    retry_backoff: float = Field(default=1.0, ge=0, le=3600, allow_inf_nan=False)
    # Seconds a request body may take to arrive after its headers (a stalled one is 408).
    body_timeout: float = Field(default=10, gt=0, le=3600, allow_inf_nan=False)
    web_dir: DirectoryPath | None = None
    # The keys the API accepts, read from TASKMANAGER_API_KEYS_FILE; None: open to all.
    api_keys_file: Annotated[KeyRing | None, NoDecode] = None
    # Scale-out: the state in Redis (none: in this process), server processes (and the
    # pause before one that died starts again), and how long a replica may stay silent
    # before its running tasks are given to another.
    redis_url: str | None = None
    redis_prefix: str = Field(default="tm", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    processes: int = Field(default=1, ge=1, le=64)
    restart_pause: float = Field(default=1.0, ge=0, le=3600, allow_inf_nan=False)
    lease: float = Field(default=10.0, ge=1, le=3600, allow_inf_nan=False)
    # The task types, read from the modules TASKMANAGER_TASKS names (comma-separated).
    tasks: Annotated[TaskTypes, NoDecode] = Field(
        default_factory=lambda: load_task_types(DEFAULT_TASKS)
    )

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: object) -> object:
        return RateLimit.parse(value) if isinstance(value, str) else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return tuple(ipaddress.ip_network(item, strict=False) for item in _split(value))

    @field_validator("api_keys_file", mode="before")
    @classmethod
    def _load_api_keys(cls, value: object) -> object:
        if isinstance(value, str | Path):
            return load_keys(Path(value)) if str(value).strip() else None
        return value

    @field_validator("tasks", mode="before")
    @classmethod
    def _load_tasks(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return load_task_types(_split(value))
            except TaskTypeError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
            if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("expected redis://host:port[/db], rediss://... or unix://path")
            if value is not None and not value.startswith("unix://"):
                _check_host_port_db(value)
            if value is not None and importlib.util.find_spec("redis") is None:
                raise ValueError(f"the Redis backend needs its extra: {install_command('redis')}")
        return value

    @model_validator(mode="after")
    def _processes_need_redis(self) -> Self:
        if self.processes > 1 and self.redis_url is None:
            raise ValueError(
                f"invalid TASKMANAGER_PROCESSES={self.processes}: more than one server "
                "process needs TASKMANAGER_REDIS_URL (each would keep tasks of its own)"
            )
        return self

    @model_validator(mode="after")
    def _no_workers_needs_redis(self) -> Self:
        if self.workers == 0 and self.redis_url is None:
            raise ValueError(
                "invalid TASKMANAGER_WORKERS=0: an API-only replica needs "
                "TASKMANAGER_REDIS_URL and worker processes; in memory it would run nothing"
            )
        return self

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_cors_origins(cls, value: object) -> object:
        return tuple(_split(value)) if isinstance(value, str) else value


def _check_host_port_db(url: str) -> None:
    """Refuse a Redis URL that would only fail when the service connects (with a traceback)."""
    parts = urlsplit(url)  # a malformed IPv6 host raises ValueError
    if not parts.hostname:
        raise ValueError("the URL names no host: expected redis://host:port[/db]")
    _ = parts.port  # a port that is not a number raises ValueError
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError(f"the database after the port must be a number, not {database!r}")


def without_password(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for an error message or a log."""
    scheme, separator, rest = url.partition("://")
    # The last "@" ends the credentials; a password may hold "/" or ":" written raw.
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = credentials.partition(":")
    return f"{scheme}{separator}{user}{':***' if colon else ''}@{host}"


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


class ConfigurationError(Exception):
    """A configuration value is invalid; the message names the variable."""


def load_settings() -> Settings:
    """Read the settings from the environment, or raise one readable error."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a rule between settings: the message names them
            raise ConfigurationError(reason) from None
        field = str(error["loc"][0])
        shown = error["input"]
        if field == "redis_url" and isinstance(shown, str):
            shown = without_password(shown)  # no error message carries a secret
        raise ConfigurationError(
            f"invalid TASKMANAGER_{field.upper()}={shown!r}: {reason}"
        ) from None
