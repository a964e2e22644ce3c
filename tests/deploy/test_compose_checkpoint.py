"""docker-compose.yml exports signed chain checkpoints: the checkpoint service reads the store read-only, appends
to a series on a volume of its own with a key no store writer holds, and `docker compose run --rm verify` checks
the store against that series with the public key. Checked as data, then by running the very command lines of
both services, with their environment and regaudit.toml (container paths mapped to temporary directories, the
mounts read-only where compose makes them so), against a real DuckDB store."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from regaudit.arguments import duration
from regaudit.evidence import checkpoints, signing
from regaudit.ingest.hooks import load_hooks
from regaudit.ingest.normalize import Normalizer
from regaudit.ingest.sinks.duckdb import DuckDBSink
from regaudit.settings import Settings, load_settings
from tests.deploy.compose import (
    INIT_SECRETS,
    REGAUDIT_TOML,
    STORE_WRITERS,
    interpolate_defaults,
    load_compose,
    load_toml,
    mount_targets,
    networks,
    volume_mounts,
)
from tests.evidence.chain_seed import HTPASSWD, NGINX_LOG
from tests.ingest.processes import REGAUDIT, regaudit_env
from tests.samples import access_records, event_records


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def _argv(service: dict[str, Any]) -> list[str]:
    return [interpolate_defaults(str(part)) for part in service["command"]]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: interpolate_defaults(str(value)) for key, value in service.get("environment", {}).items()}


def _settings(service: dict[str, Any]) -> Settings:
    """What the service's regaudit loads: regaudit.toml, then the service's environment (no .env)."""
    assert mount_targets(service, "configs") == {_environment(service)["REGAUDIT_CONFIG"]: "regaudit_toml"}
    return load_settings(REGAUDIT_TOML, environ=_environment(service))


def test_the_checkpoint_service_reads_the_store_read_only_and_appends_to_a_volume_of_its_own(
    compose: dict[str, Any],
) -> None:
    service = compose["services"]["checkpoint"]
    settings = _settings(service)
    assert settings.chain.checkpoints_path is not None
    store_dir, series_dir = str(settings.store.path.parent), str(settings.chain.checkpoints_path.parent)

    assert _argv(service) == ["checkpoint", "--every", "1h"]
    assert volume_mounts(service) == {
        store_dir: ("regaudit-store", True),
        series_dir: ("regaudit-checkpoints", False),
    }
    assert "regaudit-checkpoints" in compose["volumes"]
    # Nothing that writes the store mounts the series.
    for name in STORE_WRITERS:
        assert "regaudit-checkpoints" not in {s for s, _ in volume_mounts(compose["services"][name]).values()}
    # The file is the one destination: no topic, no alert sink, hence no network at all.
    assert (settings.chain.checkpoints_topic, settings.chain.checkpoint_sinks) == (None, [])
    assert service["network_mode"] == "none"
    assert not networks(service)
    assert service["restart"] == "unless-stopped"
    assert service["depends_on"] == {"store-init": {"condition": "service_completed_successfully"}}
    assert re.fullmatch(r"\d+[mg]", service["deploy"]["resources"]["limits"]["memory"])


def test_the_checkpoint_service_alone_holds_the_signing_key(compose: dict[str, Any]) -> None:
    service = compose["services"]["checkpoint"]
    key_path = _settings(service).reports.signing_key_path

    assert mount_targets(service, "secrets") == {str(key_path): "report_signing_key"}
    assert compose["secrets"]["report_signing_key"]["file"] == "./deploy/secrets/report_signing_key.pem"
    holders = {
        name
        for name, other in compose["services"].items()
        if "report_signing_key" in mount_targets(other, "secrets").values()
    }
    assert holders == {"checkpoint"}
    # Set for the checkpoint service only: in regaudit.toml every service (the dashboard's reports) would use it.
    assert "signing_key_path" not in load_toml()["reports"]
    assert load_settings(REGAUDIT_TOML, environ={}).reports.signing_key_path is None
    for name, other in compose["services"].items():
        assert name == "checkpoint" or "REGAUDIT_REPORTS__SIGNING_KEY_PATH" not in _environment(other), name


def test_verify_reads_the_store_and_the_series_read_only_and_trusts_the_public_half(compose: dict[str, Any]) -> None:
    service, writer = compose["services"]["verify"], compose["services"]["checkpoint"]
    settings, written = _settings(service), _settings(writer)
    assert settings.chain.checkpoints_path is not None
    argv = _argv(service)

    assert argv[0] == "verify"
    assert volume_mounts(service) == {
        str(settings.store.path.parent): ("regaudit-store", True),
        str(settings.chain.checkpoints_path.parent): ("regaudit-checkpoints", True),
    }
    # The series the checkpoint service writes, for the store it checkpoints, under the same name.
    assert settings.chain.checkpoints_path == written.chain.checkpoints_path
    assert checkpoints.store_id(settings) == checkpoints.store_id(written)
    # The public half of the signing key: the .pub.pem beside it, as `regaudit report keygen` names it.
    assert mount_targets(service, "secrets") == {str(settings.chain.public_key_path): "report_public_key"}
    private, public = (Path(compose["secrets"][name]["file"]) for name in ("report_signing_key", "report_public_key"))
    assert signing.public_path(private) == public
    # A stopped checkpoint writer fails verify; one run missed does not.
    every = duration(_argv(writer)[_argv(writer).index("--every") + 1])
    assert duration(argv[argv.index("--max-checkpoint-age") + 1]) == 2 * every
    assert service["network_mode"] == "none"
    assert service["profiles"] == ["verify"]


# --- the services' own command lines, run ---------------------------------------------------------------------


def _remap(text: str, paths: dict[str, str]) -> str:
    for container in sorted(paths, key=len, reverse=True):
        text = re.sub(re.escape(container) + r"(?=/|\"|$)", paths[container], text)
    return text


def _as_run(compose: dict[str, Any], name: str, tmp_path: Path, secrets: Path) -> tuple[list[str], dict[str, str]]:
    """The service's command and environment, every container path it mounts mapped to a directory of the test:
    a volume to tmp_path/volumes/<volume>, a secret to its file made by init-secrets.sh, the settings file to a
    copy of regaudit.toml with the same paths mapped."""
    service = compose["services"][name]
    paths = {target: str(tmp_path / "volumes" / source) for target, (source, _) in volume_mounts(service).items()}
    for target, source in mount_targets(service, "secrets").items():
        paths[target] = str(secrets / Path(compose["secrets"][source]["file"]).name)
    config = tmp_path / f"{name}.toml"
    config.write_text(_remap(REGAUDIT_TOML.read_text(), paths))
    (target,) = mount_targets(service, "configs")
    paths[target] = str(config)
    environment = {key: _remap(value, paths) for key, value in _environment(service).items()}
    base = {key: value for key, value in os.environ.items() if not key.startswith("REGAUDIT_")}
    return [_remap(word, paths) for word in _argv(service)], base | environment


def _read_only_mounts_possible(directory: Path) -> bool:
    probe = f'mount --bind -o ro "{directory}" "{directory}" && ! touch "{directory}/probe" 2>/dev/null'
    done = subprocess.run(["unshare", "-m", "sh", "-ec", probe], capture_output=True, check=False)
    return done.returncode == 0


def _command(argv: list[str], read_only: list[Path]) -> list[str]:
    """regaudit ARGV, in a mount namespace of its own where each read_only directory is a read-only bind mount
    of itself, as compose mounts a volume ``:ro`` (without the privilege to mount: as is, checked afterwards)."""
    if not read_only or not _read_only_mounts_possible(read_only[0]):
        return [*REGAUDIT, *argv]
    mounts = " && ".join(f'mount --bind -o ro "{d}" "{d}"' for d in read_only)
    return ["unshare", "-m", "sh", "-ec", f'{mounts} && exec "$@"', "sh", *REGAUDIT, *argv]


def _seed(settings: Settings) -> Path:
    """Two batches sealed in the chain, written as the consume service writes them (regaudit.consumer: its
    hooks, and webhook.registry of regaudit.toml for the access-log lines, which verify's rebuild derives with)."""
    registry = settings.webhook.registry
    for records in (event_records(HTPASSWD, "main"), access_records(NGINX_LOG)):
        normalizer = Normalizer(registry)
        try:
            timeout = settings.store.lock_timeout_seconds
            sink = DuckDBSink(settings.store.path, timeout, registry, hooks=load_hooks(settings))
            sink.write(normalizer.normalize(records), "test")
        finally:
            normalizer.close()
    return settings.store.path


def _rewrite_everything(db: Path, registry: str) -> None:
    """Someone who can write the store: edit rows, drop the chain, have regaudit seal it all again."""
    con = duckdb.connect(str(db))
    try:  # columns the derived tables do not use: the rewrite is consistent everywhere but in the checkpoints
        con.execute("UPDATE registry_events SET source_addr = '192.0.2.66'; DELETE FROM chain")
    finally:
        con.close()
    environment = regaudit_env(db, REGAUDIT_WEBHOOK__REGISTRY=registry)
    done = subprocess.run(
        [*REGAUDIT, "verify", "--seal"], env=environment, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr  # without the series, the rewrite passes


def _contents(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _checkpoint_once(argv: list[str], environment: dict[str, str], store_dir: Path, series: Path, log: Path) -> str:
    """Start the service's command (`checkpoint --every 1h`), wait for its first checkpoint, stop it."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            _command(argv, [store_dir]), env=environment, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not (series.exists() and series.read_text().endswith("\n")):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    return log.read_text()


def test_the_services_commands_checkpoint_a_real_store_and_verify_checks_it(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    env = {"SECRETS_DIR": str(secrets), "ENV_FILE": str(tmp_path / ".env"), "REGISTRY_HOSTNAME": "registry.test"}
    subprocess.run([str(INIT_SECRETS)], check=True, capture_output=True, env={**os.environ, **env})
    argv, environment = _as_run(compose, "checkpoint", tmp_path, secrets)
    settings = load_settings(Path(environment["REGAUDIT_CONFIG"]), environ=environment)
    assert settings.chain.checkpoints_path is not None
    store_dir, series = settings.store.path.parent, settings.chain.checkpoints_path
    assert store_dir == tmp_path / "volumes" / "regaudit-store"
    assert series.parent == tmp_path / "volumes" / "regaudit-checkpoints"
    store_dir.mkdir(parents=True)
    series.parent.mkdir(parents=True)
    db = _seed(settings)
    before = _contents(store_dir)

    output = _checkpoint_once(argv, environment, store_dir, series, tmp_path / "checkpoint.log")

    assert "checkpoint 1 of store regaudit.duckdb: chain entry 2 hash " in output, output
    assert _contents(store_dir) == before  # it only read the store
    (document,) = checkpoints.parse(series.read_text().splitlines(), str(series))[0]
    public = signing.load_public_key(secrets / "report_signing_key.pub.pem")
    assert checkpoints.signature_ok(document, public)

    verify_argv, verify_environment = _as_run(compose, "verify", tmp_path, secrets)
    verify_command = _command(verify_argv, [store_dir, series.parent])

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            verify_command, env=verify_environment, capture_output=True, text=True, timeout=180, check=False
        )

    done = verify()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checkpoints: 1 checked; the newest, 1 of" in done.stdout
    assert "signed chain entry 2; 0 entries since are not checkpointed yet" in done.stdout

    # Someone who can write the store rewrites it, chain included: the series kept elsewhere tells.
    _rewrite_everything(db, settings.webhook.registry)
    done = verify()
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"verify FAILED: checkpoint 1 of {document['created_at']}: chain entry 2 no longer has" in done.stdout
