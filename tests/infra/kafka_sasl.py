"""The Kafka broker of docker-compose.yml, for real: SASL/SCRAM-SHA-512 and ACLs, as users deploy it.

`SaslKafkaBroker` starts `deploy/kafka/server.properties` itself, the file the compose `kafka` service mounts,
with only the addresses and the data directory substituted (`tests.infra.templates.substitute`, which fails on
drift) and the admin's password filled in as the service's entrypoint does. It formats the storage with the
admin's SCRAM credential, as that entrypoint does. A few settings that only make a test broker start faster
on two cores are appended (`TEST_TUNING`); none of them is about security, and a test checks that.

`run_kafka_init` runs the compose `kafka-init` script itself against that broker: `kafka-configs.sh` is Kafka's
own `ConfigCommand` from the jars; `kafka-topics.sh` and `kafka-acls.sh`, whose classes the broker jars do not
carry, are `tests.infra.kafka_tools`, which applies exactly the arguments the script passes with kafka-python's
admin client and refuses any it does not know.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.deploy.compose import load_compose, shell_script

with warnings.catch_warnings():  # see tests/infra/kafka.py
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    import kafka
from tests.infra.kafka import LOG4J_CONFIG, REPO_ROOT, KafkaBroker
from tests.infra.templates import DEPLOY_DIR, TemplateDriftError, substitute

KAFKA_CONFIG = DEPLOY_DIR / "kafka" / "server.properties"
ADMIN_PASSWORD_PLACEHOLDER = "${KAFKA_ADMIN_PASSWORD}"
MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
#: the client users kafka-init creates, each with its secret deploy/secrets/kafka_<user>_password
CLIENT_USERS = ("webhook", "shipper", "consumer")
#: test-only: appended after the production file (the later key wins); speed only, nothing about security
TEST_TUNING = {
    # 50 partitions by default: creating them delays the first consumer group by seconds on two cores.
    "offsets.topic.num.partitions": "3",
    "transaction.state.log.num.partitions": "3",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "log.retention.check.interval.ms": "300000",
}
#: a short-lived tool's JVM: no optimizing compiler, no G1 (2 s instead of 7 s per command on a busy machine)
TOOL_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-Djava.awt.headless=true")
_COMMENT = re.compile(r"#.*$", re.MULTILINE)


def render_server_properties(port: int, controller_port: int, data_dir: Path, admin_password: str) -> str:
    """deploy/kafka/server.properties on loopback ports and a local data directory, password filled in."""
    replacements = {
        "BROKER://:9092": f"BROKER://127.0.0.1:{port}",
        "BROKER://kafka:9092": f"BROKER://127.0.0.1:{port}",
        "CONTROLLER://127.0.0.1:9093": f"CONTROLLER://127.0.0.1:{controller_port}",
        "1@127.0.0.1:9093": f"1@127.0.0.1:{controller_port}",
        "/var/lib/kafka/data": str(data_dir),
    }
    text = substitute(
        KAFKA_CONFIG.read_text(),
        replacements,
        source=str(KAFKA_CONFIG),
        forbidden=("kafka:9092", ":9092", ":9093", "/var/", "/etc/"),
    )
    text = text.replace(ADMIN_PASSWORD_PLACEHOLDER, admin_password)  # every one, as the entrypoint's sed
    if "${" in _COMMENT.sub("", text):
        raise TemplateDriftError(f"{KAFKA_CONFIG}: a placeholder the kafka entrypoint does not fill in")
    return (
        text
        + "# test-only tuning (tests/infra/kafka_sasl.py)\n"
        + "".join(f"{k}={v}\n" for k, v in TEST_TUNING.items())
    )


def format_arguments(cluster_id: str, properties: Path, admin_password: str) -> list[str]:
    """StorageTool's arguments, as the compose entrypoint passes them (less --ignore-formatted)."""
    scram = f"{MECHANISM}=[name={ADMIN},password={admin_password}]"
    return ["format", "--cluster-id", cluster_id, "--config", str(properties), "--add-scram", scram]


def client_options(bootstrap: str, user: str, password: str) -> dict[str, Any]:
    """kafka-python options of a client that logs in as ``user``."""
    return {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


class SaslKafkaBroker(KafkaBroker):
    """`KafkaBroker` running deploy/kafka/server.properties: every client must log in, ACLs decide the rest."""

    def __init__(self, libs: Path, work_dir: Path | None = None, *, admin_password: str) -> None:
        super().__init__(libs, work_dir)
        self.admin_password = admin_password

    def options(self, user: str, password: str) -> dict[str, Any]:
        return client_options(self.bootstrap, user, password)

    def admin_client(self, **configs: Any) -> Any:
        """An admin client logged in as the super user ``admin``; the caller closes it."""
        return kafka.KafkaAdminClient(**self.options(ADMIN, self.admin_password), **configs)

    def _write_properties(self) -> Path:
        path = self.work_dir / "server.properties"
        text = render_server_properties(self.port, self.controller_port, self.work_dir / "data", self.admin_password)
        path.write_text(text)
        path.chmod(0o600)
        return path

    def _format_arguments(self, properties: Path) -> list[str]:
        return format_arguments(self.cluster_id, properties, self.admin_password)

    def _java_command(self) -> list[str]:
        """The base command, with a log that also keeps each failed authentication (INFO in Kafka's Selector)."""
        config = self.work_dir / "log4j2.xml"
        selector = '    <Logger name="org.apache.kafka.common.network.Selector" level="INFO"/>\n'
        config.write_text(LOG4J_CONFIG.read_text().replace("  <Loggers>\n", "  <Loggers>\n" + selector, 1))
        option = "-Dlog4j2.configurationFile="
        return [option + str(config) if part.startswith(option) else part for part in super()._java_command()]

    def refusals(self) -> list[str]:
        """The broker's log lines about clients it refused before authentication: a failed login, or a client
        that did not even start SASL; oldest first."""
        if not self.log_file.exists():
            return []
        markers = ("Failed authentication with", "during SASL handshake")
        return [line for line in self.log_file.read_text().splitlines() if any(m in line for m in markers)]


def kafka_init_script() -> str:
    """The compose kafka-init service's shell script, as the container's shell receives it."""
    command = load_compose()["services"]["kafka-init"]["command"]
    assert command[:2] == ["/bin/sh", "-ec"]
    return shell_script(command[2])


def run_kafka_init(broker: SaslKafkaBroker, secrets: Path, work_dir: Path) -> subprocess.CompletedProcess[str]:
    """Runs kafka-init's script on ``broker`` with the secrets in ``secrets`` (deploy/init-secrets.sh's)."""
    tools = work_dir / "bin"
    tools.mkdir(parents=True, exist_ok=True)
    log4j = [f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", f"-Dkafka.logs.dir={work_dir}"]  # the tools' WARNs
    java = " ".join([broker.java, *TOOL_JVM_OPTIONS, *log4j, "-cp", f"'{broker.libs}/*'"])
    stubs = {
        "kafka-configs.sh": f'exec {java} kafka.admin.ConfigCommand "$@"',
        "kafka-topics.sh": f'exec {sys.executable} -m tests.infra.kafka_tools topics "$@"',
        "kafka-acls.sh": f'exec {sys.executable} -m tests.infra.kafka_tools acls "$@"',
    }
    for name, body in stubs.items():
        (tools / name).write_text(f"#!/bin/sh\ncd {REPO_ROOT}\n{body}\n")
        (tools / name).chmod(0o755)
    script = _replace_all(
        kafka_init_script(),
        {
            "/opt/kafka/bin/": f"{tools}/",
            "kafka:9092": broker.bootstrap,
            "/run/secrets/": f"{secrets}/",
            "/tmp/admin.properties": str(work_dir / "admin.properties"),
        },
    )
    return subprocess.run(["/bin/sh", "-ec", script], capture_output=True, text=True, cwd=work_dir, check=False)


def _replace_all(text: str, replacements: Mapping[str, str]) -> str:
    for old, new in replacements.items():
        if old not in text:
            raise TemplateDriftError(f"kafka-init no longer holds {old!r}")
        text = text.replace(old, new)
    return text
