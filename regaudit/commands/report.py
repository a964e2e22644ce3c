"""``regaudit report``: write a signed compliance report; ``report verify DIR`` checks one; ``report keygen``
makes the signing key.

``report verify`` trusts only a key from outside the report: ``--public-key`` (the ``.pub.pem`` the operator
published at ``report keygen`` time), else the public half of the configured ``reports.signing_key_path``. Exit
0: verified with that key; 1: a problem found; 3 (``UNVERIFIED``): the files agree with each other and with the
``signer.pub.pem`` they carry, but no trusted key was at hand, so a forged report re-signed with a fresh key would
look the same.

    regaudit report --period 2025-Q1 --repository 'prod/*' --action push --action delete
    regaudit report verify reports/report-20250101-20250401-… --public-key auditor-copy.pub.pem
    regaudit report keygen                   # writes reports.signing_key_path (and .pub.pem beside it)
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from regaudit.analytics.reports.engine import build_report
from regaudit.analytics.reports.scope import ACTIONS, Period, Scope, directory_name, last_days
from regaudit.analytics.reports.verification import outcome_lines, trusted_key, verify_report
from regaudit.errors import TerminalError
from regaudit.evidence import signing
from regaudit.settings import Settings

#: ``report verify``: the files agree, but no trusted key checked the signature
UNVERIFIED = 3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default: store.path).")
    parser.add_argument("--period", help="2025-Q1, 2025-03, or START..END (dates or ISO times, UTC, END excluded).")
    parser.add_argument("--days", type=int, default=30, help="Without --period: the last N whole UTC days (30).")
    parser.add_argument("--repository", action="append", default=[], help="Repository glob; repeatable (all).")
    parser.add_argument("--identity", action="append", default=[], help="Identity glob; repeatable (all).")
    parser.add_argument("--action", action="append", default=[], choices=ACTIONS, help="Action; repeatable (all).")
    parser.add_argument("--out", type=Path, help="New directory for the report (default: under reports.output_dir).")
    parser.add_argument("--no-pdf", action="store_true", help="Skip report.pdf (reports.pdf = false).")
    parser.add_argument("--unsigned", action="store_true", help="Write no signature (report verify will say so).")
    actions = parser.add_subparsers(dest="report_action", metavar="{verify,keygen}")
    checking = "Check a report directory: signature, checksums, row counts, totals."
    check = actions.add_parser("verify", help=checking, description=checking)
    check.add_argument("directory", type=Path, help="The report directory.")
    check.add_argument(
        "--public-key",
        type=Path,
        help="The signer's public key (PEM) as the operator published it, never the report's own signer.pub.pem"
        " (default: the public half of reports.signing_key_path). Without one the signature is unverified: exit 3.",
    )
    making = "Make an Ed25519 signing key (and its .pub.pem)."
    keygen = actions.add_parser("keygen", help=making, description=making)
    keygen.add_argument("--out", dest="key_out", type=Path, help="Key file (default: reports.signing_key_path).")
    keygen.add_argument("--force", action="store_true", help="Replace an existing key file.")


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    return {"store": {"path": args.db}, "reports": {"pdf": False if args.no_pdf else None}}


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.report_action == "verify":
        return _verify(args, settings)
    if args.report_action == "keygen":
        return _keygen(args, settings)
    now = datetime.now(UTC)
    period = Period.parse(args.period) if args.period else last_days(args.days, now)
    scope = Scope(tuple(args.repository), tuple(args.identity), tuple(args.action))
    out = args.out or settings.reports.output_dir / directory_name(period, scope, now)
    timeout = settings.store.lock_timeout_seconds
    result = build_report(
        settings.store.path, period, scope, out, settings.reports, lock_timeout=timeout, sign=not args.unsigned, now=now
    )
    print("\n".join(result.lines(period, scope)))
    return 0


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    key, origin = trusted_key(args.public_key, settings.reports.signing_key_path)
    check = verify_report(args.directory, key)
    print("\n".join(outcome_lines(check, args.directory, origin)))
    return 1 if not check.ok else (0 if check.verified else UNVERIFIED)


def _keygen(args: argparse.Namespace, settings: Settings) -> int:
    path = args.key_out or settings.reports.signing_key_path
    if path is None:
        raise TerminalError("where? pass --out PATH or set reports.signing_key_path")
    key = signing.generate_key(path, overwrite=args.force)
    print(f"private key: {path} (keep it secret; set reports.signing_key_path to it)")
    print(f"public key:  {signing.public_path(path)} (give it to auditors)")
    print(f"fingerprint: {signing.fingerprint(key.public_key())}")
    return 0
