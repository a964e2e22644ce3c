"""docker-compose.yml's segmentation, checked without a Docker engine: who shares a network with whom, memory
limits, the dashboard behind its proxy, and Kafka's authentication and authorization as deployed
(deploy/kafka/server.properties, the kafka entrypoint, the kafka-init script, each client's credentials).
tests/ingest/test_kafka_sasl.py runs the same files on the real broker."""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from regaudit.settings import load_settings
from tests.deploy.compose import (
    KAFKA_CONFIG,
    REGAUDIT_TOML,
    TLS_PROXY_CONFIG,
    interpolate_defaults,
    kafka_properties,
    load_compose,
    load_toml,
    mount_targets,
    networks,
    regaudit_services,
    shell_script,
)
from tests.infra.kafka_sasl import (
    ADMIN,
    ADMIN_PASSWORD_PLACEHOLDER,
    CLIENT_USERS,
    TEST_TUNING,
    format_arguments,
    kafka_init_script,
)

#: who calls whom: (caller, callee)
CALLS = {
    ("nginx", "registry"),
    ("registry", "webhook"),
    ("tls-proxy", "webhook"),
    ("tls-proxy", "dashboard"),
    *((client, "kafka") for client in ("webhook", "ship-logs", "consume", "kafka-init")),
}
#: pairs that share a network without calling each other: the published edge, the alert egress, Kafka's clients
INCIDENTAL = {
    ("nginx", "tls-proxy"),
    ("consume", "analyze"),
    *itertools.combinations(("webhook", "ship-logs", "consume", "kafka-init"), 2),
}
#: the Kafka user each client service logs in as
KAFKA_USERS = {"webhook": "webhook", "ship-logs": "shipper", "consume": "consumer"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _pair(a: str, b: str) -> frozenset[str]:
    return frozenset((a, b))


def test_services_share_a_network_only_with_what_they_call(compose: dict[str, Any]) -> None:
    services = compose["services"]
    sharing = {
        _pair(a, b) for a, b in itertools.combinations(services, 2) if networks(services[a]) & networks(services[b])
    }
    assert sharing == {_pair(a, b) for a, b in CALLS | INCIDENTAL}
    # Only the store and files: no network at all.
    isolated = {name for name, service in services.items() if service.get("network_mode") == "none"}
    assert isolated == {"store-init", "checkpoint", "verify"}
    for name, service in services.items():
        assert name in isolated or networks(service), f"{name} would join the default network"
        assert not (name in isolated and networks(service)), name


def test_only_the_published_and_the_egress_networks_route_outside(compose: dict[str, Any]) -> None:
    open_networks = {name for name, spec in compose["networks"].items() if not (spec or {}).get("internal")}
    assert open_networks == {"edge", "egress"}
    published = {name for name, service in compose["services"].items() if "ports" in service}
    assert {name for name, service in compose["services"].items() if "edge" in networks(service)} == published
    assert {name for name, service in compose["services"].items() if "egress" in networks(service)} == {
        "consume",  # alerts.dispatch_in_consumer: the alert sinks (Slack, SIEM, webhooks)
        "analyze",
    }


def test_kafka_is_reached_only_by_its_clients_and_the_dashboard_by_nothing_but_tls_proxy(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    reach = {
        name: {other for other in services if other != name and networks(services[other]) & networks(svc)}
        for name, svc in services.items()
    }
    assert reach["kafka"] == {"webhook", "ship-logs", "consume", "kafka-init"}
    assert reach["dashboard"] == {"tls-proxy"}
    # The registry's debug port shows the webhook token: nginx and the webhook reach it, not the dashboard's proxy.
    assert reach["registry"] == {"nginx", "webhook"}


@pytest.mark.parametrize("service", sorted(load_compose()["services"]))
def test_every_service_has_a_memory_limit(compose: dict[str, Any], service: str) -> None:
    limit = compose["services"][service]["deploy"]["resources"]["limits"]["memory"]
    assert re.fullmatch(r"\d+[mg]", limit)


def test_kafkas_heap_fits_in_its_memory_limit(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    heap = re.search(r"-Xmx(\d+)([mg])", kafka["environment"]["KAFKA_HEAP_OPTS"])
    limit = re.fullmatch(r"(\d+)([mg])", kafka["deploy"]["resources"]["limits"]["memory"])
    assert heap is not None
    assert limit is not None

    def mebibytes(number: str, unit: str) -> int:
        return int(number) * (1024 if unit == "g" else 1)

    assert mebibytes(*heap.groups()) * 1.5 <= mebibytes(*limit.groups())


def test_kafka_authenticates_every_client_and_authorizes_every_request() -> None:
    properties = kafka_properties()
    protocols = dict(item.split(":") for item in properties["listener.security.protocol.map"].split(","))
    listeners = dict(item.split("://") for item in properties["listeners"].split(","))

    assert set(protocols.values()) == {"SASL_PLAINTEXT"}
    assert set(listeners) == set(protocols)
    assert properties["listener.name.broker.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["advertised.listeners"] == "BROKER://kafka:9092"
    # The controller answers on the container's loopback only.
    assert listeners[properties["controller.listener.names"]] == "127.0.0.1:9093"
    assert properties["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == f"User:{ADMIN}"
    assert properties["auto.create.topics.enable"] == "false"
    assert properties["process.roles"] == "broker,controller"
    # The test broker appends only speed settings: nothing about listeners, SASL, ACLs or users.
    assert not {key for key in TEST_TUNING if re.search(r"listener|sasl|super|authorizer|acl|security", key)}


def _kafka_entrypoint(compose: dict[str, Any]) -> str:
    entrypoint = compose["services"]["kafka"]["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-ec"]
    return shell_script(entrypoint[2])


def _stub(path: Path, calls: Path, output: str = "") -> None:
    path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> {calls}\n{output}\n')
    path.chmod(0o755)


def _run(script: str, replacements: dict[str, str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for old, new in replacements.items():
        assert old in script, old
        script = script.replace(old, new)
    return subprocess.run(["/bin/sh", "-ec", script], capture_output=True, text=True, env=env, check=False)


def _entrypoint_run(compose: dict[str, Any], tmp_path: Path, password: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "kafka_admin_password").write_text(password + "\n")
    calls = tmp_path / "calls"
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        _stub(tmp_path / tool, calls)
    replacements = {  # /tmp/ first: the others put paths under /tmp/ in
        "/tmp/": f"{tmp_path}/",
        "/run/secrets/": f"{tmp_path}/",
        "/etc/kafka/server.properties.template": str(KAFKA_CONFIG),
        "/opt/kafka/bin/": f"{tmp_path}/",
    }
    return _run(_kafka_entrypoint(compose), replacements, {"PATH": "/usr/bin:/bin", "CLUSTER_ID": "cluster-1"})


def test_the_kafka_entrypoint_fills_in_the_admin_password_and_formats_with_its_credential(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    password = "a0b1c2d3e4f5a6b7"
    result = _entrypoint_run(compose, tmp_path, password)
    assert result.returncode == 0, result.stderr

    rendered = tmp_path / "server.properties"
    assert rendered.read_text() == KAFKA_CONFIG.read_text().replace(ADMIN_PASSWORD_PLACEHOLDER, password)
    storage, start = (shlex.split(line) for line in (tmp_path / "calls").read_text().splitlines())
    # What tests/infra/kafka_sasl.py formats the real test broker with, plus --ignore-formatted for restarts.
    storage.remove("--ignore-formatted")
    assert storage[1:] == format_arguments("cluster-1", rendered, password)
    assert start[1:] == [str(rendered)]
    admin = kafka_properties((tmp_path / "admin.properties").read_text())
    assert admin["security.protocol"] == "SASL_PLAINTEXT"
    assert f'username="{ADMIN}" password="{password}"' in admin["sasl.jaas.config"]
    assert all(path.stat().st_mode & 0o077 == 0 for path in (rendered, tmp_path / "admin.properties"))


@pytest.mark.parametrize("password", ["", "a|b", "a&b", 'a"b', "a,b", "a]b", "a b", "pass=word"])
def test_the_kafka_entrypoint_refuses_a_password_it_would_misquote(
    compose: dict[str, Any], tmp_path: Path, password: str
) -> None:
    result = _entrypoint_run(compose, tmp_path, password)

    assert result.returncode == 64
    assert "kafka_admin_password: empty, or a character outside" in result.stderr
    assert not (tmp_path / "calls").exists()


def _kafka_init_calls(tmp_path: Path) -> list[list[str]]:
    calls = tmp_path / "calls"
    for tool in ("kafka-configs.sh", "kafka-topics.sh", "kafka-acls.sh"):
        _stub(tmp_path / tool, calls, 'echo "Topic: x PartitionCount: 1"')
    for user in (ADMIN, *CLIENT_USERS):
        (tmp_path / f"kafka_{user}_password").write_text(f"{user}-0123456789\n")
    replacements = {"/tmp/": f"{tmp_path}/", "/opt/kafka/bin/": f"{tmp_path}/", "/run/secrets/": f"{tmp_path}/"}
    result = _run(kafka_init_script(), replacements, {"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in calls.read_text().splitlines()]


def _flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, part in enumerate(argv) if part == flag]


def test_kafka_init_logs_in_as_admin_and_sets_every_clients_scram_password(tmp_path: Path) -> None:
    calls = _kafka_init_calls(tmp_path)
    for argv in calls:
        assert _flag_values(argv, "--bootstrap-server") == ["kafka:9092"]
        assert _flag_values(argv, "--command-config") == [f"{tmp_path}/admin.properties"]
    admin = kafka_properties((tmp_path / "admin.properties").read_text())
    assert f'username="{ADMIN}" password="{ADMIN}-0123456789"' in admin["sasl.jaas.config"]

    scram = {
        _flag_values(argv, "--entity-name")[0]: _flag_values(argv, "--add-config")
        for argv in calls
        if argv[0] == "kafka-configs.sh"
    }
    assert scram == {user: [f"SCRAM-SHA-512=[password={user}-0123456789]"] for user in CLIENT_USERS}


def test_kafka_init_creates_the_topics_regaudit_uses(tmp_path: Path) -> None:
    created = {
        _flag_values(argv, "--topic")[0]: argv
        for argv in _kafka_init_calls(tmp_path)
        if argv[0] == "kafka-topics.sh" and "--create" in argv
    }
    settings = load_toml()["kafka"]
    assert set(created) == {
        settings["events_topic"],
        settings["access_topic"],
        settings["deadletter_topic"],
        "registry.alerts",
    }
    for argv in created.values():
        assert {"--if-not-exists", "--replication-factor"} <= set(argv)
        assert int(_flag_values(argv, "--partitions")[0]) >= 1
    assert settings["bootstrap_servers"] == "kafka:9092"


def test_kafka_init_grants_each_client_only_its_own_topics_and_group(tmp_path: Path) -> None:
    granted: set[tuple[str, str, str, str]] = set()
    for argv in _kafka_init_calls(tmp_path):
        if argv[0] != "kafka-acls.sh":
            continue
        assert "--add" in argv
        assert not {"--deny-principal", "--resource-pattern-type", "--cluster", "--transactional-id"} & set(argv)
        (principal,) = _flag_values(argv, "--allow-principal")
        resources = [("topic", t) for t in _flag_values(argv, "--topic")]
        resources += [("group", g) for g in _flag_values(argv, "--group")]
        for (kind, name), operation in itertools.product(resources, _flag_values(argv, "--operation")):
            granted.add((principal, kind, name, operation))
    kafka, group = load_toml()["kafka"], load_toml()["consumer"]["group_id"]
    events, access, deadletters = kafka["events_topic"], kafka["access_topic"], kafka["deadletter_topic"]
    produce, read = ("Write", "Describe"), ("Read", "Describe")
    assert granted == {
        *(("User:webhook", "topic", t, op) for t in (events, deadletters) for op in produce),
        *(("User:shipper", "topic", access, op) for op in produce),
        *(("User:consumer", "topic", t, op) for t in (events, access, deadletters) for op in read),
        *(("User:consumer", "group", group, op) for op in read),
        *(("User:consumer", "topic", "registry.alerts", op) for op in produce),
    }


def test_each_kafka_client_logs_in_as_its_own_user_with_its_own_secret(compose: dict[str, Any]) -> None:
    for name, service in regaudit_services(compose).items():
        environment = service["environment"]
        user = environment.get("REGAUDIT_KAFKA__SASL_USERNAME")
        assert user == KAFKA_USERS.get(name), name
        if user is None:
            assert "REGAUDIT_KAFKA__SASL_PASSWORD_FILE" not in environment, name
            assert "to-kafka" not in networks(service), name
            continue
        password_file = environment["REGAUDIT_KAFKA__SASL_PASSWORD_FILE"]
        assert mount_targets(service, "secrets")[password_file] == f"kafka_{user}_password", name
        assert environment["REGAUDIT_CONFIG"] == "/etc/regaudit/regaudit.toml", name
        assert "to-kafka" in networks(service), name
    kafka_init = mount_targets(compose["services"]["kafka-init"], "secrets")
    assert set(kafka_init.values()) == {f"kafka_{user}_password" for user in (ADMIN, *CLIENT_USERS)}
    assert set(mount_targets(compose["services"]["kafka"], "secrets").values()) == {"kafka_admin_password"}


def test_the_settings_file_speaks_sasl_scram_to_the_broker() -> None:
    kafka = load_toml()["kafka"]
    assert (kafka["security_protocol"], kafka["sasl_mechanism"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert "sasl_password" not in kafka


def test_the_dashboard_believes_x_forwarded_for_only_from_its_network_with_tls_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    subnet = interpolate_defaults(compose["networks"]["to-dashboard"]["ipam"]["config"][0]["subnet"])
    environment = {key: interpolate_defaults(value) for key, value in services["dashboard"]["environment"].items()}
    settings = load_settings(REGAUDIT_TOML, environ=environment)

    assert settings.dashboard.trusted_proxies == [subnet]
    assert {name for name, service in services.items() if "to-dashboard" in networks(service)} == {
        "dashboard",
        "tls-proxy",
    }
    # tls-proxy appends the peer it saw, so the right-most address not in the subnet is the client's.
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in TLS_PROXY_CONFIG.read_text()
