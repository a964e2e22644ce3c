"""docker-compose.yml, checked without a Docker engine: the Compose specification, and every place where it
must agree with the deploy files the end-to-end tests start: paths, ports, names, volumes, secrets, topics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    INIT_SECRETS,
    KAFKA_CONFIG,
    ONE_SHOTS,
    REGAUDIT_TOML,
    REPO_ROOT,
    SECRETS_DIR,
    STORE_READERS,
    STORE_WRITERS,
    TLS_PROXY_CONFIG,
    TOOLS,
    interpolate_defaults,
    kafka_properties,
    load_compose,
    load_toml,
    mount_targets,
    regaudit_services,
    shell_script,
    variables,
    volume_mounts,
)
from tests.infra.templates import (
    NGINX_AUTH_BASIC,
    NGINX_CONFIG,
    REGISTRY_CONFIG,
    TOKEN_PLACEHOLDER,
)

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
_NGINX_FILE_DIRECTIVES = re.compile(
    r"^\s*(?:ssl_certificate|ssl_certificate_key|include|auth_basic_user_file)\s+(/\S+);", re.MULTILINE
)
_COMMENT = re.compile(r"#.*$", re.MULTILINE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service = compose["services"][name]
    assert isinstance(service, dict)
    return service


def _command(service: dict[str, Any]) -> list[str]:
    return [interpolate_defaults(str(part)) for part in service["command"]]


def _flag(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _config_file(compose: dict[str, Any], name: str) -> Path:
    return (REPO_ROOT / str(compose["configs"][name]["file"])).resolve()


def test_compose_file_validates_against_the_compose_specification() -> None:
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_would_catch_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    restart: unless-stopped\n", "    restrat: no\n", 1))
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "'restrat' was unexpected" in result.stdout


def test_compose_mounts_exactly_the_config_files_the_end_to_end_tests_start(compose: dict[str, Any]) -> None:
    files = {name: _config_file(compose, name) for name in compose["configs"]}
    assert files == {
        "registry_config": REGISTRY_CONFIG,
        "nginx_config": NGINX_CONFIG,
        "nginx_auth": NGINX_AUTH_BASIC,
        "tls_proxy_config": TLS_PROXY_CONFIG,
        "regaudit_toml": REGAUDIT_TOML,
        "kafka_config": KAFKA_CONFIG,
    }
    registry, nginx = _service(compose, "registry"), _service(compose, "nginx")
    kafka = _service(compose, "kafka")
    assert mount_targets(kafka, "configs") == {"/etc/kafka/server.properties.template": "kafka_config"}
    assert mount_targets(registry, "configs") == {"/etc/docker/registry/config.template.yml": "registry_config"}
    assert mount_targets(nginx, "configs") == {
        "/etc/nginx/nginx.conf": "nginx_config",
        "/etc/nginx/registry-auth.conf": "nginx_auth",
    }
    # No file reaches a container any other way: every volume is a named volume.
    for name, service in compose["services"].items():
        for source, _ in volume_mounts(service).values():
            assert source in compose["volumes"], f"{name} bind-mounts {source}"


def test_every_file_nginx_conf_reads_is_mounted_in_the_nginx_service(compose: dict[str, Any]) -> None:
    nginx = _service(compose, "nginx")
    mounted = set(mount_targets(nginx, "configs")) | set(mount_targets(nginx, "secrets"))
    code = _COMMENT.sub("", NGINX_CONFIG.read_text() + NGINX_AUTH_BASIC.read_text())
    wanted = set(_NGINX_FILE_DIRECTIVES.findall(code))

    assert wanted == {
        "/etc/nginx/tls/registry.crt",
        "/etc/nginx/tls/registry.key",
        "/etc/nginx/registry-auth.conf",
        "/etc/nginx/registry.htpasswd",
    }
    assert wanted <= mounted
    assert set(mount_targets(nginx, "secrets").values()) == {
        "tls_certificate",
        "tls_private_key",
        "registry_htpasswd",
    }


def test_the_access_log_is_shared_read_only_with_the_shipper(compose: dict[str, Any]) -> None:
    access_log = re.search(r"^\s*access_log\s+(\S+)\s+registry_json;", NGINX_CONFIG.read_text(), re.MULTILINE)
    assert access_log is not None
    log_path = Path(access_log[1])
    nginx, shipper = _service(compose, "nginx"), _service(compose, "ship-logs")

    assert volume_mounts(nginx)[str(log_path.parent)] == ("nginx-logs", False)
    assert volume_mounts(shipper)[str(log_path.parent)] == ("nginx-logs", True)
    argv = _command(shipper)
    assert argv[:2] == ["ship-logs", str(log_path)]
    state = Path(_flag(argv, "--state"))
    assert volume_mounts(shipper)[str(state.parent)] == ("shipper-state", False)


def test_the_registry_notifies_the_webhook_service_on_its_port(compose: dict[str, Any]) -> None:
    url = re.search(r"^\s*url:\s*http://([a-z-]+):(\d+)/events$", REGISTRY_CONFIG.read_text(), re.MULTILINE)
    assert url is not None
    host, port = url[1], url[2]
    webhook = _service(compose, host)
    argv = _command(webhook)

    assert argv[0] == "webhook"
    assert (_flag(argv, "--host"), _flag(argv, "--port")) == ("0.0.0.0", port)
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(webhook["healthcheck"]["test"])
    assert mount_targets(webhook, "secrets") == {
        "/run/secrets/webhook_tokens": "webhook_tokens",
        "/run/secrets/kafka_password": "kafka_webhook_password",
    }
    assert _flag(argv, "--token-file") == "/run/secrets/webhook_tokens"
    storage = re.search(r"rootdirectory:\s*(\S+)", REGISTRY_CONFIG.read_text())
    assert storage is not None
    assert volume_mounts(_service(compose, "registry"))[storage[1]] == ("registry-data", False)


def test_only_nginx_and_the_dashboard_are_published(compose: dict[str, Any]) -> None:
    published = {
        name: [interpolate_defaults(port) for port in service["ports"]]
        for name, service in compose["services"].items()
        if "ports" in service
    }
    assert published == {"nginx": ["443:443"], "tls-proxy": ["8501:8501"]}
    assert re.search(r"^\s*listen 443 ssl;", NGINX_CONFIG.read_text(), re.MULTILINE)


def test_tls_proxy_serves_the_dashboard_and_the_webhook_where_they_listen(compose: dict[str, Any]) -> None:
    proxy = _service(compose, "tls-proxy")
    text = TLS_PROXY_CONFIG.read_text()
    dashboard, webhook = _command(_service(compose, "dashboard")), _command(_service(compose, "webhook"))

    assert f"server dashboard:{_flag(dashboard, '--port')};" in text
    assert f"server webhook:{_flag(webhook, '--port')};" in text
    assert _flag(dashboard, "--host") == "0.0.0.0"
    assert re.search(r"^\s*listen 8501 ssl;", text, re.MULTILINE)
    assert mount_targets(proxy, "configs") == {"/etc/nginx/nginx.conf": "tls_proxy_config"}
    code = _COMMENT.sub("", text)
    assert set(_NGINX_FILE_DIRECTIVES.findall(code)) == set(mount_targets(proxy, "secrets"))
    # Its requests go to the container's output, never into the registry access log that is shipped.
    assert "volumes" not in proxy
    assert re.findall(r"^\s*access_log\s+(\S+)", code, re.MULTILINE) == ["/var/log/nginx/access.log"]


def test_services_restart_and_the_one_shots_are_waited_for(compose: dict[str, Any]) -> None:
    waited_for: set[str] = set()
    for name, service in compose["services"].items():
        expected = "no" if name in ONE_SHOTS | TOOLS else "unless-stopped"
        assert service["restart"] == expected, name
        # A tool is in a profile of its own, so `docker compose up` never starts it.
        assert service.get("profiles") == ([name] if name in TOOLS else None), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in compose["services"]
            if dependency in ONE_SHOTS:
                assert condition == {"condition": "service_completed_successfully"}, (name, dependency)
                waited_for.add(dependency)
    assert waited_for == ONE_SHOTS


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("registry", "http://127.0.0.1:5000/v2/"),
        ("nginx", "https://127.0.0.1/healthz"),
        (
            "kafka",
            "kafka-broker-api-versions.sh --bootstrap-server localhost:9092 --command-config /tmp/admin.properties",
        ),
        ("webhook", "http://127.0.0.1:8081/healthz"),
        ("consume", "http://127.0.0.1:9464/healthz"),
        ("dashboard", "http://127.0.0.1:8501/_stcore/health"),
        ("tls-proxy", "https://127.0.0.1:8501/_stcore/health"),
    ],
)
def test_health_checks_probe_the_service_itself(compose: dict[str, Any], service: str, probe: str) -> None:
    healthcheck = _service(compose, service)["healthcheck"]
    assert probe in " ".join(healthcheck["test"])
    assert {"interval", "timeout", "retries"} <= set(healthcheck)


def test_registry_health_check_port_is_the_registry_config_port(compose: dict[str, Any]) -> None:
    assert re.search(r"^\s*addr: :5000$", REGISTRY_CONFIG.read_text(), re.MULTILINE)
    assert _service(compose, "nginx")["depends_on"]["registry"] == {"condition": "service_healthy"}
    assert re.search(r"^\s*server registry:5000;", NGINX_CONFIG.read_text(), re.MULTILINE)


def test_data_lives_on_named_volumes(compose: dict[str, Any]) -> None:
    assert set(compose["volumes"]) == {
        "registry-data",
        "nginx-logs",
        "regaudit-store",
        "shipper-state",
        "kafka-data",
        "regaudit-checkpoints",
    }
    kafka = _service(compose, "kafka")
    assert volume_mounts(kafka)[kafka_properties()["log.dirs"]] == ("kafka-data", False)


def test_the_store_volume_is_shared_by_the_store_users_only(compose: dict[str, Any]) -> None:
    store_dir = str(Path(load_toml()["store"]["path"]).parent)
    users = {
        name
        for name, service in compose["services"].items()
        if any(source == "regaudit-store" for source, _ in volume_mounts(service).values())
    }
    assert users == STORE_WRITERS | STORE_READERS
    for name in STORE_WRITERS:
        assert volume_mounts(_service(compose, name))[store_dir] == ("regaudit-store", False), name
    for name in STORE_READERS:
        assert volume_mounts(_service(compose, name))[store_dir] == ("regaudit-store", True), name


def test_regaudit_services_read_the_settings_file(compose: dict[str, Any]) -> None:
    services = regaudit_services(compose)
    assert set(services) == {
        "store-init",
        "webhook",
        "ship-logs",
        "consume",
        "analyze",
        "dashboard",
        "checkpoint",
        "verify",
    }
    for service in services.values():
        target = service["environment"]["REGAUDIT_CONFIG"]
        assert mount_targets(service, "configs") == {target: "regaudit_toml"}


def test_secrets_are_files_under_deploy_secrets_that_git_ignores(compose: dict[str, Any]) -> None:
    for name, secret in compose["secrets"].items():
        path = (REPO_ROOT / secret["file"]).resolve()
        assert path.parent == SECRETS_DIR, name
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(path)], cwd=REPO_ROOT, capture_output=True, check=False
        )
        assert ignored.returncode == 0, f"git would commit {path}"
    listed = re.findall(r"^\| `([^`]+)` \|", (SECRETS_DIR / "README.md").read_text(), re.MULTILINE)
    assert sorted(listed) == sorted(Path(s["file"]).name for s in compose["secrets"].values())


def test_no_secret_value_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            # A secret's path, e.g. REGAUDIT_KAFKA__SASL_PASSWORD_FILE, REGAUDIT_REPORTS__SIGNING_KEY_PATH.
            if key.endswith(("_FILE", "_KEY_PATH")):
                assert value in mount_targets(service, "secrets"), (name, key)
                continue
            assert not re.search(r"TOKEN|PASSWORD|SECRET|KEY", key), (name, key)
    assert not re.search(r"-----BEGIN|\b[0-9a-f]{32,}\b", COMPOSE_FILE.read_text())


def test_every_variable_the_compose_file_uses_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert variables(COMPOSE_FILE.read_text()) <= documented


def _run_script(script: str, replacements: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a compose shell script with its container paths replaced, in an environment with PATH only."""
    for old, new in replacements.items():
        assert old in script, old
        script = script.replace(old, new)
    env = {"PATH": os.environ["PATH"]}
    return subprocess.run(["/bin/sh", "-ec", script], capture_output=True, text=True, env=env, check=False)


def _registry_entrypoint(compose: dict[str, Any]) -> str:
    entrypoint = _service(compose, "registry")["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-ec"]
    return shell_script(entrypoint[2])


def _init_secrets(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets"
    env = {
        "SECRETS_DIR": str(secrets),
        "ENV_FILE": str(tmp_path / ".env"),
        "REGISTRY_HOSTNAME": "registry.test",
    }
    subprocess.run([str(INIT_SECRETS)], check=True, capture_output=True, env={**os.environ, **env})
    return secrets


def test_the_registry_entrypoint_renders_config_yml_with_the_secret_token(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    secrets = _init_secrets(tmp_path)
    rendered = tmp_path / "config.yml"
    replacements = {
        "/run/secrets/": f"{secrets}/",
        "/etc/docker/registry/config.template.yml": str(REGISTRY_CONFIG),
        "/tmp/config.yml": str(rendered),
        "exec registry serve": 'echo "http_secret=$REGISTRY_HTTP_SECRET"; exec cat',
    }
    result = _run_script(_registry_entrypoint(compose), replacements)

    assert result.returncode == 0, result.stderr
    token = (secrets / "registry_webhook_token").read_text().strip()
    http_secret = (secrets / "registry_http_secret").read_text().strip()
    assert result.stdout == f"http_secret={http_secret}\n" + rendered.read_text()
    assert rendered.read_text() == REGISTRY_CONFIG.read_text().replace(TOKEN_PLACEHOLDER, token)
    assert token in (secrets / "webhook_tokens").read_text().split()
    assert rendered.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("token", ["", "a|b", "a&b", "a\\b", "tok en"])
def test_the_registry_entrypoint_refuses_a_token_sed_would_misread(
    compose: dict[str, Any], tmp_path: Path, token: str
) -> None:
    (tmp_path / "registry_webhook_token").write_text(token + "\n")
    (tmp_path / "registry_http_secret").write_text("s\n")
    replacements = {
        "/run/secrets/": f"{tmp_path}/",
        "/etc/docker/registry/config.template.yml": str(REGISTRY_CONFIG),
        "/tmp/config.yml": str(tmp_path / "config.yml"),
    }
    result = _run_script(_registry_entrypoint(compose), replacements)

    assert result.returncode == 64
    assert "registry_webhook_token: empty, or a character outside" in result.stderr
    assert not (tmp_path / "config.yml").exists()
