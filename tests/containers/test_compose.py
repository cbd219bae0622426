"""docker-compose.yml validates against the Compose schema and wires the services right:
Redis with its append-only file on a volume, two API replicas and scalable worker
processes over it, nginx in front."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys

import pytest
import yaml
from container_support import (
    COMPOSE_FILE,
    DOCKERFILE,
    NGINX_CONF,
    REPO,
    parse_dockerfile,
    require_tool,
)

from bench.server import clean_environment
from taskmanager.config import Settings

REPLICAS = ("api-1", "api-2")
WORKER = "worker"
# Settings the image fixes itself (paths inside it), not knobs for the operator.
SET_BY_THE_IMAGE = {"TASKMANAGER_WEB_DIR"}
# A container runs one server process: the service scales by replicas, not processes (so
# neither has it a pause before one is started again).
NOT_FOR_CONTAINERS = {"TASKMANAGER_PROCESSES", "TASKMANAGER_RESTART_PAUSE"}
# Settings whose compose default differs from the service's on purpose: compose has its own
# proxy and its own Redis (both checked below).
COMPOSE_DEFAULTS = {"TASKMANAGER_TRUSTED_PROXIES", "TASKMANAGER_REDIS_URL"}
INTERPOLATION = re.compile(r"^\$\{(TASKMANAGER_[A-Z_]+):-(.*)\}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as docker-compose itself reads it: validated, defaults interpolated."""
    docker_compose = require_tool("docker-compose")
    result = subprocess.run(  # noqa: S603
        [docker_compose, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env=clean_environment(),
        cwd=REPO,
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def default_of(value: str) -> str:
    """The default of a ``${TASKMANAGER_X:-default}`` pass-through."""
    match = INTERPOLATION.match(value)
    assert match, f"pass it through as ${{TASKMANAGER_...:-default}}, not {value!r}"
    return match[2]


def test_docker_compose_validates_the_file_against_the_compose_schema(resolved):
    assert set(resolved["services"]) == {"redis", *REPLICAS, WORKER, "web"}


def test_redis_keeps_an_append_only_file_on_a_volume_has_a_memory_limit_and_a_health_check(
    resolved,
):
    redis = resolved["services"]["redis"]
    assert redis["image"] == "redis:7"
    command = redis["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options.pop("--appendonly") == "yes"
    assert options.pop("--appendfsync") == "everysec"
    # Full, Redis refuses what would grow it (503 to a submission) and evicts nothing.
    assert options.pop("--maxmemory-policy") == "noeviction"
    assert options.pop("--maxmemory") == "512mb"
    assert not options
    (volume,) = redis["volumes"]
    name, mount, *_ = volume.split(":")
    assert mount == "/data", "the official image keeps its files in /data"
    assert name in resolved["volumes"], "a named volume, which outlives the container"
    test = redis["healthcheck"]["test"]
    assert "redis-cli ping" in " ".join(test)
    assert "PONG" in " ".join(test), "redis-cli exits 0 on an error reply (LOADING) too"
    assert "ports" not in redis, "Redis is for the replicas only"


def test_the_two_replicas_share_one_definition_and_use_the_compose_redis(compose, resolved):
    first, second = (resolved["services"][name] for name in REPLICAS)
    assert first == second
    assert compose["services"]["api-1"] == compose["services"]["api-2"], "one anchor for both"
    url = first["environment"]["TASKMANAGER_REDIS_URL"]
    assert url == "redis://redis:6379/0"
    assert first["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "ports" not in first, "clients reach the replicas through web only"


def test_every_setting_is_passed_through_with_the_default_the_service_uses(compose, monkeypatch):
    for name in [name for name in os.environ if name.startswith("TASKMANAGER_")]:
        monkeypatch.delenv(name)
    defaults = Settings()
    expected = {f"TASKMANAGER_{field.upper()}" for field in Settings.model_fields}
    image_env = " ".join(i.arguments for i in parse_dockerfile(DOCKERFILE) if i.keyword == "ENV")
    for variable in SET_BY_THE_IMAGE:
        assert f"{variable}=" in image_env, f"the Dockerfile sets {variable}"
    for replica in REPLICAS:
        environment = compose["services"][replica]["environment"]
        assert set(environment) == expected - SET_BY_THE_IMAGE - NOT_FOR_CONTAINERS, replica
        for variable, value in environment.items():
            match = INTERPOLATION.match(str(value))
            assert match, f"{variable}: pass it through as ${{{variable}:-default}}, not {value!r}"
            assert match[1] == variable
            if variable in COMPOSE_DEFAULTS:
                continue
            field = variable.removeprefix("TASKMANAGER_").lower()
            parsed = Settings.model_validate({field: match[2]})
            assert getattr(parsed, field) == getattr(defaults, field), variable


def test_the_replicas_trust_exactly_the_web_proxy(resolved):
    (web_network,) = resolved["services"]["web"]["networks"].items()
    name, settings = web_network
    web_address = ipaddress.ip_address(settings["ipv4_address"])
    for replica in REPLICAS:
        service = resolved["services"][replica]
        assert service["environment"]["TASKMANAGER_TRUSTED_PROXIES"] == str(web_address)
        assert name in service["networks"]
    assert name in resolved["services"]["redis"]["networks"]
    (subnet,) = (
        ipaddress.ip_network(c["subnet"]) for c in resolved["networks"][name]["ipam"]["config"]
    )
    assert web_address in subnet


def test_only_the_proxy_is_published_and_the_images_build_from_the_repository(compose):
    services = compose["services"]
    assert services["web"]["ports"] == ["8080:8080"]
    assert [name for name, service in services.items() if "ports" in service] == ["web"]
    assert services["web"]["build"] == {"context": ".", "dockerfile": "webapp/Dockerfile"}
    for name in REPLICAS:
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        assert services[name]["image"] == "taskmanager-api"
    for build in (services[name]["build"] for name in (*REPLICAS, "web")):
        assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_nginx_balances_across_exactly_the_replicas_of_the_compose_file(compose):
    upstream = re.search(r"upstream api \{(.*?)\}", NGINX_CONF.read_text(), re.DOTALL)
    assert upstream, "webapp/nginx.conf has an `upstream api` block"
    servers = re.findall(r"^\s*server\s+([\w.-]+):8000;", upstream[1], re.MULTILINE)
    assert sorted(servers) == sorted(REPLICAS)
    assert set(REPLICAS) <= set(compose["services"])


def test_every_service_has_a_health_check_and_web_waits_for_healthy_replicas(compose):
    services = compose["services"]
    for name in REPLICAS:
        test = " ".join(services[name]["healthcheck"]["test"])
        assert "/healthz" in test
        assert "curl" not in test, "the slim image has no curl"
    assert services["web"]["healthcheck"]["test"][0] == "CMD"
    assert services["redis"]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}
    assert services["web"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in REPLICAS
    }


def test_every_service_runs_without_capabilities_or_privilege_escalation(resolved):
    for name, service in resolved["services"].items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["restart"] == "unless-stopped", name
    for name in (*REPLICAS, WORKER, "redis"):
        assert resolved["services"][name]["read_only"] is True, name
    assert resolved["services"]["redis"]["user"] == "999:999", "the image's redis user"
    for name in (*REPLICAS, WORKER):
        assert resolved["services"][name]["init"] is True, name


def test_docker_waits_longer_than_the_shutdown_grace_before_killing_a_replica(compose):
    for name in (*REPLICAS, WORKER):
        replica = compose["services"][name]
        grace = float(default_of(replica["environment"]["TASKMANAGER_SHUTDOWN_GRACE"]))
        stop_after = replica["stop_grace_period"]
        assert stop_after.endswith("s")
        assert float(stop_after[:-1]) > grace + 5


def test_the_proxy_waits_far_longer_than_a_default_long_poll(compose):
    long_poll = float(
        default_of(compose["services"]["api-1"]["environment"]["TASKMANAGER_LONG_POLL_TIMEOUT"])
    )
    timeouts = re.findall(r"proxy_read_timeout\s+(\d+)s;", NGINX_CONF.read_text())
    assert timeouts, "webapp/nginx.conf sets proxy_read_timeout in seconds"
    assert min(int(t) for t in timeouts) >= 10 * long_poll


def test_the_worker_service_runs_worker_processes_with_the_replicas_settings(compose, resolved):
    worker = resolved["services"][WORKER]
    assert worker["command"][:4] == ["python", "-m", "taskmanager", "worker"]
    replica = resolved["services"]["api-1"]
    assert worker["image"] == replica["image"]
    assert worker["depends_on"] == {"redis": {"condition": "service_healthy"}}
    own = {"TASKMANAGER_WORKERS"}
    assert {k: v for k, v in worker["environment"].items() if k not in own} == {
        k: v for k, v in replica["environment"].items() if k not in own
    }
    # Its own knob: TASKMANAGER_WORKERS=0 makes the replicas API-only, not the workers idle.
    workers = compose["services"][WORKER]["environment"]["TASKMANAGER_WORKERS"]
    assert workers == "${WORKER_PROCESS_WORKERS:-5}"


def test_the_worker_service_scales_it_has_no_port_name_or_address_of_its_own(compose):
    worker = compose["services"][WORKER]
    assert "ports" not in worker
    assert "container_name" not in worker
    assert worker["networks"] == ["taskmanager"], "no fixed address: each copy gets its own"
    assert WORKER not in compose["services"]["web"]["depends_on"], "web talks to the API only"


def worker_health_check(compose: dict, health_file) -> list[str]:
    """The worker's health check as this machine can run it: its file swapped for ours."""
    worker = compose["services"][WORKER]
    test = worker["healthcheck"]["test"]
    assert test[0] == "CMD", "exec form: the image has no shell to rely on"
    file = worker["command"][worker["command"].index("--health-file") + 1]
    writable = worker["tmpfs"]
    assert any(file.startswith(f"{mount}/") for mount in writable), "the root is read-only"
    assert file in test, "the check reads the file the worker touches"
    assert test[1] == "python"
    return [sys.executable, *(str(health_file) if part == file else part for part in test[2:])]


def test_the_worker_health_check_passes_on_a_fresh_file_and_fails_without_one(compose, tmp_path):
    health_file = tmp_path / "worker.alive"
    command = worker_health_check(compose, health_file)

    def check() -> int:
        return subprocess.run(command, cwd=REPO, capture_output=True, check=False).returncode  # noqa: S603

    assert check() == 1, "no file yet: the worker has not been healthy once"
    health_file.touch()
    assert check() == 0
    old = health_file.stat().st_mtime - 60
    os.utime(health_file, (old, old))
    assert check() == 1, "not touched for a minute: the worker hangs or is gone"


def test_the_worker_health_check_allows_several_missed_touches_and_no_more(compose):
    worker = compose["services"][WORKER]
    test = worker["healthcheck"]["test"]
    max_age = float(test[test.index("--max-age") + 1])
    lease = float(default_of(worker["environment"]["TASKMANAGER_LEASE"]))
    touched_every = lease / 4  # the worker checks its health four times per lease
    assert 3 * touched_every <= max_age <= 2 * lease
