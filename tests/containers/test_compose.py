"""docker-compose.yml validates against the Compose schema and wires the services right."""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess

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

# Settings the image fixes itself (paths inside it), not knobs for the operator.
SET_BY_THE_IMAGE = {"TASKMANAGER_WEB_DIR"}
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


def test_docker_compose_validates_the_file_against_the_compose_schema(resolved):
    assert set(resolved["services"]) == {"api", "web"}


def test_every_setting_is_passed_through_with_the_default_the_service_uses(compose, monkeypatch):
    for name in [name for name in os.environ if name.startswith("TASKMANAGER_")]:
        monkeypatch.delenv(name)
    environment = compose["services"]["api"]["environment"]
    expected = {f"TASKMANAGER_{field.upper()}" for field in Settings.model_fields}
    assert set(environment) == expected - SET_BY_THE_IMAGE
    image_env = " ".join(i.arguments for i in parse_dockerfile(DOCKERFILE) if i.keyword == "ENV")
    for variable in SET_BY_THE_IMAGE:
        assert f"{variable}=" in image_env, f"the Dockerfile sets {variable}"
    defaults = Settings()
    for variable, value in environment.items():
        match = INTERPOLATION.match(str(value))
        assert match, f"{variable}: pass it through as ${{{variable}:-default}}, not {value!r}"
        assert match[1] == variable
        field = variable.removeprefix("TASKMANAGER_").lower()
        if field == "trusted_proxies":
            continue  # compose trusts its own proxy; checked below
        parsed = Settings.model_validate({field: match[2]})
        assert getattr(parsed, field) == getattr(defaults, field), variable


def test_the_api_trusts_exactly_the_web_proxy(resolved):
    (web_network,) = resolved["services"]["web"]["networks"].items()
    name, settings = web_network
    web_address = ipaddress.ip_address(settings["ipv4_address"])
    trusted = resolved["services"]["api"]["environment"]["TASKMANAGER_TRUSTED_PROXIES"]
    assert trusted == str(web_address)
    assert name in resolved["services"]["api"]["networks"]
    (subnet,) = (
        ipaddress.ip_network(c["subnet"]) for c in resolved["networks"][name]["ipam"]["config"]
    )
    assert web_address in subnet


def test_the_services_publish_their_ports_and_build_from_the_repository(compose):
    api, web = compose["services"]["api"], compose["services"]["web"]
    assert api["ports"] == ["8000:8000"]
    assert web["ports"] == ["8080:8080"]
    assert api["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert web["build"] == {"context": ".", "dockerfile": "webapp/Dockerfile"}
    for build in (api["build"], web["build"]):
        assert (REPO / build["context"] / build["dockerfile"]).is_file()


def test_both_services_have_health_checks_and_web_waits_for_a_healthy_api(compose):
    api, web = compose["services"]["api"], compose["services"]["web"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert "curl" not in " ".join(api["healthcheck"]["test"]), "the slim image has no curl"
    assert web["healthcheck"]["test"][0] == "CMD"
    assert web["depends_on"] == {"api": {"condition": "service_healthy"}}


def test_docker_waits_longer_than_the_shutdown_grace_before_killing_the_api(compose):
    grace = INTERPOLATION.match(
        compose["services"]["api"]["environment"]["TASKMANAGER_SHUTDOWN_GRACE"]
    )
    assert grace
    stop_after = compose["services"]["api"]["stop_grace_period"]
    assert stop_after.endswith("s")
    assert float(stop_after[:-1]) > float(grace[2]) + 5


def test_the_proxy_waits_far_longer_than_a_default_long_poll(compose):
    long_poll = INTERPOLATION.match(
        compose["services"]["api"]["environment"]["TASKMANAGER_LONG_POLL_TIMEOUT"]
    )
    assert long_poll
    timeouts = re.findall(r"proxy_read_timeout\s+(\d+)s;", NGINX_CONF.read_text())
    assert timeouts, "webapp/nginx.conf sets proxy_read_timeout in seconds"
    assert min(int(t) for t in timeouts) >= 10 * float(long_poll[2])
