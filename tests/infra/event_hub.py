"""A real Kafka broker standing in for an Azure Event Hubs namespace's Kafka endpoint.

Event Hubs serves Kafka clients on port 9093 with SASL PLAIN over TLS only: the user name is the literal
``$ConnectionString`` and the password the namespace's (or one hub's) connection string (Azure/azure-event-hubs-for-
kafka README; FORMATS-more-registries.md 1.1). ``EventHubBroker`` is `KafkaBroker` with one more listener speaking
exactly that: ``SASL_SSL``, mechanism ``PLAIN``, one user ``$ConnectionString`` whose password is a connection
string, and a self-signed certificate for 127.0.0.1 made here (``self_signed``) that clients trust through their
CA file, as they would the namespace's. The PLAINTEXT listener stays for the readiness check and topic creation
(the Event Hub, created in Azure, is there before any client connects).
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.infra.kafka import KafkaBroker, free_port

USERNAME = "$ConnectionString"
#: the shape of an Event Hubs connection string; the key is this test's own
CONNECTION_STRING = (
    "Endpoint=sb://regaudit-test.servicebus.windows.net/;SharedAccessKeyName=regaudit-listen;"
    "SharedAccessKey=dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc4OQ=="
)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 key and a certificate for 127.0.0.1 (its own CA): (the broker's PEM keystore, the clients' CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    keystore, ca_file = directory / "keystore.pem", directory / "ca.pem"
    keystore.write_bytes(key_pem + cert_pem)
    keystore.chmod(0o600)
    ca_file.write_bytes(cert_pem)
    return keystore, ca_file


class EventHubBroker(KafkaBroker):
    """`KafkaBroker` plus a SASL_SSL PLAIN listener with Event Hubs' one user; ``endpoint`` is its address."""

    def __init__(self, libs: Path, work_dir: Path) -> None:
        super().__init__(libs, work_dir)
        self.sasl_port = free_port()
        work_dir.mkdir(parents=True, exist_ok=True)
        keystore, self.ca_file = self_signed(work_dir)
        jaas = (
            f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{USERNAME}="{CONNECTION_STRING}";'
        )
        plain, controller = f"PLAINTEXT://127.0.0.1:{self.port}", f"CONTROLLER://127.0.0.1:{self.controller_port}"
        sasl_ssl = f"SASL_SSL://127.0.0.1:{self.sasl_port}"
        self.extra_properties.update({
            "listeners": f"{plain},{controller},{sasl_ssl}",
            "advertised.listeners": f"{plain},{controller},{sasl_ssl}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
        })  # fmt: skip

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def client_options(self, password: str = CONNECTION_STRING) -> dict[str, Any]:
        """kafka-python options as Microsoft's samples give them for the Kafka endpoint."""
        return {
            "bootstrap_servers": self.endpoint,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": USERNAME,
            "sasl_plain_password": password,
            "ssl_cafile": str(self.ca_file),
        }
