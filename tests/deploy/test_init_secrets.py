"""deploy/init-secrets.sh makes every secret docker-compose.yml mounts, and .env, and never overwrites one."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from regaudit.evidence import signing
from tests.deploy.compose import INIT_SECRETS, load_compose


def _run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SECRETS_DIR": str(tmp_path / "secrets"),
        "ENV_FILE": str(tmp_path / ".env"),
        "REGISTRY_HOSTNAME": "registry.test",
    }
    return subprocess.run([str(INIT_SECRETS)], capture_output=True, text=True, env=env, check=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_creates_every_secret_the_compose_file_mounts(tmp_path: Path) -> None:
    _run(tmp_path)
    secrets = tmp_path / "secrets"
    wanted = {Path(secret["file"]).name for secret in load_compose()["secrets"].values()}

    assert {path.name for path in secrets.iterdir()} == wanted
    assert _mode(secrets) == 0o700
    # Readable by the containers' non-root users (webhook uid 10001, nginx workers as nobody) or root only.
    modes = {path.name: _mode(path) for path in secrets.iterdir()}
    assert modes == {
        "tls.crt": 0o644,
        "tls.key": 0o600,
        "registry.htpasswd": 0o644,
        "webhook_tokens": 0o644,
        "registry_webhook_token": 0o600,
        "registry_http_secret": 0o600,
        "dashboard_users": 0o644,
        # Kafka's SCRAM passwords: read by the kafka image's appuser and regaudit (uid 10001).
        "kafka_admin_password": 0o644,
        "kafka_webhook_password": 0o644,
        "kafka_shipper_password": 0o644,
        "kafka_consumer_password": 0o644,
        # The checkpoint signing key and its public half: read by regaudit (uid 10001).
        "report_signing_key.pem": 0o644,
        "report_signing_key.pub.pem": 0o644,
    }


def test_the_tokens_are_random_and_the_webhook_accepts_the_registrys(tmp_path: Path) -> None:
    _run(tmp_path)
    secrets = tmp_path / "secrets"
    token = (secrets / "registry_webhook_token").read_text()

    assert re.fullmatch(r"[0-9a-f]{64}\n", token)
    assert (secrets / "webhook_tokens").read_text() == token
    assert (secrets / "registry_http_secret").read_text() != token
    assert (secrets / "registry.htpasswd").read_text() == ""
    assert (secrets / "dashboard_users").read_text() == ""
    kafka = {(secrets / f"kafka_{user}_password").read_text() for user in ("admin", "webhook", "shipper", "consumer")}
    assert len(kafka) == 4
    assert all(re.fullmatch(r"[0-9a-f]{64}\n", password) for password in kafka)


def test_the_certificate_names_the_registry_host(tmp_path: Path) -> None:
    _run(tmp_path)
    certificate = tmp_path / "secrets" / "tls.crt"
    result = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DNS:registry.test" in result.stdout


def test_env_gets_a_kafka_cluster_id(tmp_path: Path) -> None:
    _run(tmp_path)
    env = (tmp_path / ".env").read_text()

    assert re.search(r"^KAFKA_CLUSTER_ID=[A-Za-z0-9_-]{22}$", env, re.MULTILINE)
    assert _mode(tmp_path / ".env") == 0o600


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    _run(tmp_path)
    files = sorted([*(tmp_path / "secrets").iterdir(), tmp_path / ".env"])
    before = {path: path.read_bytes() for path in files}

    result = _run(tmp_path)

    assert result.stdout == ""
    assert {path: path.read_bytes() for path in files} == before


def test_the_signing_key_is_an_ed25519_pair_regaudit_reads_and_its_fingerprint_is_printed(tmp_path: Path) -> None:
    result = _run(tmp_path)
    secrets = tmp_path / "secrets"

    private = signing.load_private_key(secrets / "report_signing_key.pem")
    public = signing.load_public_key(secrets / "report_signing_key.pub.pem")
    assert signing.fingerprint(public) == signing.fingerprint(private.public_key())
    # What `regaudit report keygen` writes beside its key, byte for byte.
    assert (secrets / "report_signing_key.pub.pem").read_bytes() == signing.public_pem(public)
    assert f"(fingerprint {signing.fingerprint(public)})" in result.stdout
