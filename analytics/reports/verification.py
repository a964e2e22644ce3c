"""``regaudit report verify DIR``: check a report directory from its contents alone.

Checks, each failure naming the file: the manifest's Ed25519 signature (with the key given, else with
``signer.pub.pem``, whose fingerprint must be the manifest's); every listed file's size and SHA-256; no file in
the directory that the manifest does not list; the row count of every table file (CSV records, JSON lines,
Parquet rows); and the manifest's totals recomputed from ``activity.parquet``'s rows.

Only a key the verifier trusts proves who signed: ``signer.pub.pem`` travels inside the report, so whoever forges
the files re-signs them with a fresh key and ships its public half. Without a trusted key the signature is still
checked against ``signer.pub.pem`` (which catches a damaged file) but the outcome is ``verified = False``: the
files agree with each other, nothing more.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from regaudit.analytics.reports import exports
from regaudit.analytics.reports.manifest import MANIFEST, PUBLIC_KEY, SIGNATURE, sha256_file
from regaudit.analytics.reports.summaries import TOTALS_SQL
from regaudit.evidence import signing


@dataclass(frozen=True)
class ReportCheck:
    """The outcome: problems (each naming a file) and what was checked. ``ok``: no problem found;
    ``verified``: and the signature was checked with a key the caller trusts (``key_given``)."""

    problems: tuple[str, ...]
    files_count: int
    signer: str | None
    key_given: bool

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verified(self) -> bool:
        return self.ok and self.key_given


def trusted_key(given: Path | None, signing_key_path: Path | None) -> tuple[Ed25519PublicKey | None, str]:
    """The key to check the signature with and where it came from (the key given, else the public half of the
    configured signing key, else none); never the report's own signer.pub.pem."""
    if given:
        return signing.load_public_key(given), f"the key given ({given})"
    if signing_key_path is not None and signing_key_path.exists():
        return signing.load_public_key(signing_key_path), f"the configured signing key ({signing_key_path})"
    return None, ""


def outcome_lines(check: ReportCheck, directory: Path, origin: str) -> list[str]:
    """The check's outcome for a terminal: the problems, or what an unverified signature does not prove."""
    if not check.ok:
        return [f"report verify FAILED: {directory}", *(f"  {problem}" for problem in check.problems)]
    if not check.verified:
        return [
            f"report UNVERIFIED: {directory}: {check.files_count} files' checksums, row counts and totals"
            " match the manifest, signed by the signer.pub.pem it carries (fingerprint"
            f" {check.signer}); that proves nothing about who wrote it: anyone can re-sign a forged report",
            "  pass --public-key with the .pub.pem the operator published at `regaudit report keygen` time",
        ]
    return [
        f"report ok: {directory}: signature, {check.files_count} files' checksums, row counts and totals",
        f"signed by {check.signer}, checked with {origin}",
    ]


def verify_report(directory: Path, public_key: Ed25519PublicKey | None = None) -> ReportCheck:
    try:
        data = (directory / MANIFEST).read_bytes()
        manifest: dict[str, Any] = json.loads(data)
    except (OSError, ValueError) as error:
        return ReportCheck((f"{MANIFEST}: cannot be read: {error}",), 0, None, public_key is not None)
    problems = _signature(directory, data, manifest, public_key)
    listed = {entry["name"]: entry for entry in manifest.get("files", [])}
    for name, entry in listed.items():
        problems += _file(directory, name, entry)
    extra = sorted(p.name for p in directory.iterdir() if p.name not in {*listed, MANIFEST, SIGNATURE})
    problems += [f"{name}: in the directory but not in the manifest" for name in extra]
    if "activity.parquet" in listed and not any(p.startswith("activity.parquet") for p in problems):
        problems += _totals(directory / "activity.parquet", manifest.get("totals", {}))
    signer = (manifest.get("signer") or {}).get("public_key_sha256")
    return ReportCheck(tuple(problems), len(listed), signer, public_key is not None)


def _signature(directory: Path, data: bytes, manifest: dict[str, Any], key: Ed25519PublicKey | None) -> list[str]:
    signer = manifest.get("signer")
    if not signer:
        return [f"{MANIFEST}: not signed"]
    try:
        signature = (directory / SIGNATURE).read_bytes()
        key = key or signing.load_public_key(directory / PUBLIC_KEY)
    except (OSError, signing.SigningKeyError) as error:
        return [f"{SIGNATURE}: cannot check the signature: {error}"]
    problems = []
    if signing.fingerprint(key) != signer.get("public_key_sha256"):
        problems.append(f"{MANIFEST}: names signer {signer.get('public_key_sha256')}, not the key checked with")
    if not signing.is_valid(key, signature, data):
        problems.append(f"{SIGNATURE}: not a valid signature of {MANIFEST} by key {signing.fingerprint(key)}")
    return problems


def _file(directory: Path, name: str, entry: dict[str, Any]) -> list[str]:
    path = directory / name
    if Path(name).name != name or not path.is_file():
        return [f"{name}: listed in the manifest but missing"]
    if path.stat().st_size != entry.get("bytes"):
        return [f"{name}: {path.stat().st_size} bytes, the manifest says {entry.get('bytes')}"]
    digest = sha256_file(path)
    if digest != entry.get("sha256"):
        return [f"{name}: SHA-256 {digest}, the manifest says {entry.get('sha256')}"]
    if "rows_count" in entry:
        found = _rows(path)
        if found != entry["rows_count"]:
            return [f"{name}: {found} rows, the manifest says {entry['rows_count']}"]
    return []


def _rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return int(pq.read_metadata(path).num_rows)
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
        return sum(1 for line in handle if line.strip())


def _totals(parquet: Path, totals: dict[str, Any]) -> list[str]:
    con = exports.connection()
    try:
        con.register("activity", pq.read_table(parquet))
        cursor = con.execute(TOTALS_SQL)
        names = [column[0] for column in cursor.description or ()]
        found = dict(zip(names, cursor.fetchall()[0], strict=True))
    finally:
        con.close()
    return [
        f"manifest.json: total {name} is {totals.get(name)}, activity.parquet's rows give {value}"
        for name, value in found.items()
        if totals.get(name) != value
    ]
