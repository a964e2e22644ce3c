"""`kafka-topics.sh` and `kafka-acls.sh` for the tests, whose Java classes the broker jars do not carry.

Run as ``python -m tests.infra.kafka_tools topics|acls ARGS...`` with the arguments kafka-init passes to the
real tools. Only the options kafka-init uses are known; any other is refused (exit 2), so a script that grows
an option these do not apply fails the test instead of being half-applied. Both log in with the
``--command-config`` file the script wrote (``sasl.jaas.config``), as the real tools do, and apply the request
with kafka-python's admin client on the real broker; the broker decides, as it would for the real tools.
The real tools' semantics kept: ``--if-not-exists`` ignores a topic that exists; ``--describe --topic`` takes a
regular expression; ``kafka-acls.sh --add`` grants every ``--operation`` on every resource and refuses an
operation the resource type does not have.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # see tests/infra/kafka.py
    warnings.filterwarnings("ignore", r"(read|open)_text is deprecated", DeprecationWarning)
    import kafka
    import kafka.errors
    from kafka.admin import (
        ACL,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        ResourcePattern,
        ResourceType,
    )

_JAAS = re.compile(r'username="(?P<user>[^"]*)"\s+password="(?P<password>[^"]*)"')
#: what AclCommand accepts per resource type
_OPERATIONS = {
    ResourceType.TOPIC: {"READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"},
    ResourceType.GROUP: {"READ", "DESCRIBE", "DELETE"},
}


def client_configs(bootstrap: str, command_config: Path) -> dict[str, Any]:
    """kafka-python options from a Java client properties file (SASL with SCRAM, as kafka-init writes it)."""
    properties = {}
    for line in command_config.read_text().splitlines():
        key, _, value = line.partition("=")
        properties[key.strip()] = value.strip()
    jaas = _JAAS.search(properties.get("sasl.jaas.config", ""))
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "security_protocol": properties.get("security.protocol", "PLAINTEXT"),
    }
    if jaas is not None:
        options["sasl_mechanism"] = properties["sasl.mechanism"]
        options["sasl_plain_username"] = jaas["user"]
        options["sasl_plain_password"] = jaas["password"]
    return options


def topics(argv: list[str]) -> int:
    parser = _parser("kafka-topics.sh")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--create", action="store_true")
    action.add_argument("--describe", action="store_true")
    parser.add_argument("--if-not-exists", action="store_true")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--replication-factor", type=int)
    parser.add_argument("--config", action="append", default=[])
    args = parser.parse_args(argv)
    with contextlib.closing(_admin(args)) as admin:
        if args.describe:
            pattern = re.compile(args.topic)
            for name in sorted(t for t in admin.list_topics() if pattern.fullmatch(t)):
                partitions = admin.describe_topics([name])[0]["partitions"]
                print(f"Topic: {name}\tPartitionCount: {len(partitions)}")
            return 0
        configs = dict(item.split("=", 1) for item in args.config)
        spec = {"num_partitions": args.partitions, "replication_factor": args.replication_factor, "configs": configs}
        try:
            admin.create_topics({args.topic: spec}, wait_for_metadata=True)
        except kafka.errors.TopicAlreadyExistsError:
            if not args.if_not_exists:
                raise
        print(f"Created topic {args.topic}.")
    return 0


def acls(argv: list[str]) -> int:
    parser = _parser("kafka-acls.sh")
    parser.add_argument("--add", action="store_true", required=True)
    parser.add_argument("--allow-principal", required=True)
    parser.add_argument("--operation", action="append", required=True)
    parser.add_argument("--topic", action="append", default=[])
    parser.add_argument("--group", action="append", default=[])
    args = parser.parse_args(argv)
    resources = [(ResourceType.TOPIC, name) for name in args.topic] + [(ResourceType.GROUP, g) for g in args.group]
    if not resources:
        parser.error("no resource (--topic, --group)")
    wanted = []
    for resource_type, name in resources:
        for operation in (op.upper() for op in args.operation):
            if operation not in _OPERATIONS[resource_type]:
                parser.error(f"ResourceType {resource_type.name} only supports operations {_OPERATIONS[resource_type]}")
            pattern = ResourcePattern(resource_type, name, ACLResourcePatternType.LITERAL)
            wanted.append(ACL(args.allow_principal, "*", ACLOperation[operation], ACLPermissionType.ALLOW, pattern))
    with contextlib.closing(_admin(args)) as admin:
        result = admin.create_acls(wanted)
    if result["failed"]:
        print(f"kafka-acls: {result['failed']}", file=sys.stderr)
        return 1
    return 0


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    parser.add_argument("--bootstrap-server", required=True)
    parser.add_argument("--command-config", type=Path, required=True)
    return parser


def _admin(args: argparse.Namespace) -> Any:
    return kafka.KafkaAdminClient(**client_configs(args.bootstrap_server, args.command_config))


def main(argv: list[str]) -> int:
    tools = {"topics": topics, "acls": acls}
    if not argv or argv[0] not in tools:
        print(f"usage: python -m tests.infra.kafka_tools {{{','.join(tools)}}} ARGS...", file=sys.stderr)
        return 2
    return tools[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
