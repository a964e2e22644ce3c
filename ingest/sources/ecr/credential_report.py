"""IAM's credential report as a credential inventory: the long-term access keys that can call ECR.

``aws iam generate-credential-report`` then ``aws iam get-credential-report --query Content --output text |
base64 -d`` gives a CSV, one row per IAM user and one for ``<root_account>`` (schemas/ecr.py names the columns
read). Each principal with an active access key is one credential:

* ``name``: the principal's ARN, the identity CloudTrail records as ``userIdentity.arn``, so the credential
  detections join it to the principal's ECR activity;
* ``owner``: the user name (``<root_account>`` for the root);
* ``created_at``: ``user_creation_time``;
* ``rotated_at``: the **oldest** ``last_rotated`` of its active keys (a fresh second key must not hide a stale
  first one; AWS Security Hub IAM.3 judges each key);
* ``expires_at``: NULL, IAM access keys do not expire.

A principal with no active key (console password only, or keys deactivated) cannot call ECR with a long-term key
and is left out. The report's ``access_key_N_last_used_date`` covers every AWS service, not ECR only, and the
``credentials`` table has no column for a last use: ECR use is what the store's own activity says.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from regaudit.schemas.ecr import CredentialReportRow


def report_entries(text: str) -> list[dict[str, Any]]:
    """The credential inventory entries of one report (``credentials.CredentialEntry`` fields); ValueError
    (a pydantic ValidationError) for a row that is not one of the report's."""
    entries = []
    for row in csv.DictReader(io.StringIO(text)):
        report = CredentialReportRow.model_validate({key.strip(): value for key, value in row.items() if key})
        rotations = [
            rotated
            for active, rotated in ((report.access_key_1_active, report.access_key_1_last_rotated),
                                    (report.access_key_2_active, report.access_key_2_last_rotated))
            if active
        ]  # fmt: skip
        if not rotations:
            continue
        known = [rotated for rotated in rotations if rotated is not None]
        entries.append({
            "name": report.arn, "kind": "user", "owner": report.user,
            "created_at": report.user_creation_time, "rotated_at": min(known) if known else None, "expires_at": None,
        })  # fmt: skip
    return entries
