"""A forged report, re-signed with a fresh key that ships inside it, must not pass ``regaudit report verify``:
only a key from outside the report (``--public-key``, or the configured signing key) proves who signed it.
Run as the operator and the auditor run it: the real CLI in its own process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from regaudit.analytics.reports import manifest as report_manifest
from regaudit.analytics.reports.engine import build_report
from regaudit.analytics.reports.scope import Period, Scope
from regaudit.evidence import signing
from tests.ingest.processes import REGAUDIT, regaudit_env

PERIOD = Period.parse("2025-03")


@pytest.fixture(scope="module")
def genuine(report_store, report_settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("genuine") / "report"
    build_report(report_store, PERIOD, Scope(), out, report_settings)
    return out


def report_verify(directory: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGAUDIT, "report", "verify", str(directory), *extra],
        env=env or regaudit_env(directory / "unused.duckdb"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def forge(genuine: Path, into: Path, forger: Path) -> Path:
    """Drop the report's last activity row, then rebuild SHA256SUMS and the manifest and re-sign them with the
    forger's own fresh key, shipped as signer.pub.pem: every file agrees with every other."""
    copy = Path(shutil.copytree(genuine, into))
    csv = copy / "activity.csv"
    lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
    csv.write_text("".join(lines[:-1]), encoding="utf-8")
    key = signing.generate_key(forger)
    shutil.copy(signing.public_path(forger), copy / report_manifest.PUBLIC_KEY)
    document = json.loads((copy / report_manifest.MANIFEST).read_text(encoding="utf-8"))
    for entry in document["files"]:
        if entry["name"] == report_manifest.SUMS:
            continue
        path = copy / entry["name"]
        entry["bytes"], entry["sha256"] = path.stat().st_size, report_manifest.sha256_file(path)
        if entry["name"] == "activity.csv":
            entry["rows_count"] -= 1
    listed = [report_manifest.describe(copy / e["name"]) for e in document["files"] if e["name"] != "SHA256SUMS"]
    sums = report_manifest.write_sums(copy, listed)
    for entry in document["files"]:
        if entry["name"] == report_manifest.SUMS:
            entry["bytes"], entry["sha256"] = sums.bytes, sums.sha256
    document["signer"]["public_key_sha256"] = signing.fingerprint(key.public_key())
    report_manifest.write_signed(copy, document, key)
    return copy


def test_a_forged_report_resigned_with_a_fresh_key_is_not_reported_verified(genuine, tmp_path, signing_key_path):
    forged = forge(genuine, tmp_path / "forged", tmp_path / "forger.pem")

    alone = report_verify(forged)
    assert alone.returncode == 3, alone.stdout + alone.stderr
    assert "report UNVERIFIED" in alone.stdout
    assert "report ok" not in alone.stdout

    published = signing.public_path(signing_key_path)
    checked = report_verify(forged, "--public-key", str(published))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "not a valid signature of manifest.json" in checked.stdout


def test_the_genuine_report_verifies_only_with_a_key_from_outside_it(genuine, signing_key_path):
    published = signing.public_path(signing_key_path)
    with_key = report_verify(genuine, "--public-key", str(published))
    assert with_key.returncode == 0, with_key.stdout + with_key.stderr
    assert f"checked with the key given ({published})" in with_key.stdout

    configured = regaudit_env(genuine / "unused.duckdb", REGAUDIT_REPORTS__SIGNING_KEY_PATH=str(signing_key_path))
    with_setting = report_verify(genuine, env=configured)
    assert with_setting.returncode == 0, with_setting.stdout + with_setting.stderr
    assert "checked with the configured signing key" in with_setting.stdout

    alone = report_verify(genuine)
    assert alone.returncode == 3
    assert "report UNVERIFIED" in alone.stdout
