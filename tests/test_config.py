"""Configuration: defaults, parsing, and one clear line for a bad value."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from support import start_refused

from taskmanager.config import ConfigurationError, RateLimit, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_spec(monkeypatch):
    for name in list(os.environ):
        if name.startswith("TASKMANAGER_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.time_scale == 1.0
    assert settings.workers == 5
    assert settings.rate_limit == RateLimit(10, 60)
    assert settings.trusted_proxies == ()
    assert settings.result_ttl == 600
    assert settings.long_poll_timeout == 10
    assert settings.max_tasks == 100_000
    assert settings.cors_origins == ("*",)
    assert settings.shutdown_grace == 10
    assert settings.retry_backoff == 1.0
    assert settings.api_keys_file is None


def test_values_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TASKMANAGER_RATE_LIMIT", "5/second")
    monkeypatch.setenv("TASKMANAGER_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    monkeypatch.setenv("TASKMANAGER_CORS_ORIGINS", "http://a.example,http://b.example")
    settings = load_settings()
    assert settings.rate_limit == RateLimit(5, 1)
    assert [str(net) for net in settings.trusted_proxies] == ["10.0.0.1/32", "192.168.0.0/16"]
    assert settings.cors_origins == ("http://a.example", "http://b.example")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TASKMANAGER_WORKERS", "zero"),
        ("TASKMANAGER_WORKERS", "0"),
        ("TASKMANAGER_TIME_SCALE", "-1"),
        ("TASKMANAGER_TIME_SCALE", "nan"),
        ("TASKMANAGER_RATE_LIMIT", "10/fortnight"),
        ("TASKMANAGER_RATE_LIMIT", "0/minute"),
        ("TASKMANAGER_TRUSTED_PROXIES", "not-an-ip"),
        ("TASKMANAGER_MAX_TASKS", "-5"),
        ("TASKMANAGER_MAX_STORE_MB", "0"),
        ("TASKMANAGER_LONG_POLL_TIMEOUT", "0"),
        ("TASKMANAGER_RETRY_BACKOFF", "-1"),
        ("TASKMANAGER_API_KEYS_FILE", "/no/such/file"),
        ("TASKMANAGER_REDIS_URL", "http://localhost:6379"),
        ("TASKMANAGER_LEASE", "0"),
        ("TASKMANAGER_PROCESSES", "0"),
        ("TASKMANAGER_RESTART_PAUSE", "-1"),
    ],
)
def test_a_bad_value_raises_an_error_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_a_bad_value_stops_the_server_with_one_line_and_no_traceback():
    assert "TASKMANAGER_WORKERS" in start_refused(TASKMANAGER_WORKERS="many")


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret-pw@localhost:6379",
        "redis://:s3cret-pw@localhost:notaport/0",
        "redis://user:s3cret-pw@[::1/0",
        "redis://:s3cret-pw@localhost:6379/db",
    ],
)
def test_a_malformed_redis_url_stops_start_up_without_its_password(url):
    line = start_refused(TASKMANAGER_REDIS_URL=url)
    assert "TASKMANAGER_REDIS_URL" in line
    assert "s3cret-pw" not in line


def test_more_than_one_process_without_redis_is_refused_in_one_line(monkeypatch):
    monkeypatch.delenv("TASKMANAGER_REDIS_URL", raising=False)
    monkeypatch.setenv("TASKMANAGER_PROCESSES", "2")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert "TASKMANAGER_PROCESSES=2" in message
    assert "TASKMANAGER_REDIS_URL" in message


def test_a_redis_url_without_the_redis_extra_says_what_installs_it_here(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "redis" else find_spec(name, *a),
    )
    monkeypatch.setenv("TASKMANAGER_REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert f"{sys.executable} -m pip install -e '{ROOT}[redis]'" in str(raised.value)


def test_zero_workers_without_redis_is_refused_in_one_line(monkeypatch):
    monkeypatch.delenv("TASKMANAGER_REDIS_URL", raising=False)
    monkeypatch.setenv("TASKMANAGER_WORKERS", "0")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message
    assert "TASKMANAGER_WORKERS=0" in message
    assert "TASKMANAGER_REDIS_URL" in message
    assert "would run nothing" in message
    assert "would run nothing" in start_refused(TASKMANAGER_WORKERS="0")


def test_zero_workers_with_redis_is_an_api_only_replica(monkeypatch):
    monkeypatch.setenv("TASKMANAGER_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("TASKMANAGER_WORKERS", "0")
    assert load_settings().workers == 0
