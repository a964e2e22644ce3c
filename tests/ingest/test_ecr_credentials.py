"""IAM's credential report as a credential inventory, the report asked of moto's IAM server (GenerateCredentialReport,
GetCredentialReport over HTTP): one credential per principal with an active access key, named by its ARN."""

from __future__ import annotations

import time

import boto3
import pytest

from regaudit.analytics.runner import prepare
from regaudit.cli import main
from regaudit.ingest import store
from regaudit.ingest.sources.ecr.credential_report import report_entries
from tests.ingest.moto_server import CREDENTIALS, moto_endpoint

__all__ = ["moto_endpoint"]


@pytest.fixture
def report(moto_endpoint) -> str:
    """A report of three users: two active keys, one key deactivated, and a console user with no key."""
    iam = boto3.client("iam", endpoint_url=moto_endpoint, **CREDENTIALS)
    suffix = time.monotonic_ns()
    for name in (f"ci-{suffix}", f"alice-{suffix}", f"console-{suffix}"):
        iam.create_user(UserName=name)
    iam.create_access_key(UserName=f"ci-{suffix}")
    iam.create_access_key(UserName=f"ci-{suffix}")
    key = iam.create_access_key(UserName=f"alice-{suffix}")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName=f"alice-{suffix}", AccessKeyId=key, Status="Inactive")
    iam.generate_credential_report()
    content = iam.get_credential_report()["Content"].decode()
    iam.close()
    return content


def test_each_principal_with_an_active_key_is_a_credential_named_by_its_arn(report):
    entries = {entry["owner"]: entry for entry in report_entries(report) if "-" in entry["owner"]}
    [ci] = [entry for owner, entry in entries.items() if owner.startswith("ci-")]
    assert ci["name"] == f"arn:aws:iam::123456789012:user/{ci['owner']}"
    assert (ci["kind"], ci["expires_at"]) == ("user", None)
    assert ci["rotated_at"] is not None
    assert ci["rotated_at"] >= ci["created_at"]
    assert not any(owner.startswith(("alice-", "console-")) for owner in entries)  # no active key: no credential


def test_the_oldest_active_key_is_the_rotation_and_missing_values_are_none():
    header = (
        "user,arn,user_creation_time,password_enabled,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date"
    )
    # the row moto's IAM model quotes as AWS's (moto/iam/models.py, User.to_csv), in the columns above
    row = ("aagrawal,arn:aws:iam::509284790694:user/aagrawal,2014-09-01T22:28:48+00:00,true,true,"
           "2014-09-01T22:28:48+00:00,N/A,true,2015-01-02T00:00:00+00:00,N/A")  # fmt: skip
    [entry] = report_entries(f"{header}\n{row}\n")
    assert entry["rotated_at"].isoformat() == "2014-09-01T22:28:48+00:00"
    assert entry["owner"] == "aagrawal"


def test_credentials_import_takes_the_report_and_its_principals_are_current(report, tmp_path):
    path = tmp_path / "credential-report.csv"
    path.write_text(report, encoding="utf-8")
    db = tmp_path / "store.duckdb"
    assert main(["credentials", "import", "--db", str(db), "--format", "aws-credential-report", str(path)]) == 0
    with store.reader(db) as con:
        prepare(con)
        current = con.execute("SELECT name, kind, rotated_at IS NOT NULL FROM current_credentials").fetchall()
    # moto's IAM state outlives one test: each test's ci user is there, as one user credential each
    assert {(kind, rotated) for name, kind, rotated in current if "/ci-" in name} == {("user", True)}
    assert not [name for name, _, _ in current if "/alice-" in name or "/console-" in name]
    assert all(name.startswith("arn:aws:iam::") for name, _, _ in current)
