"""The simulator's public records: notifications, labels, identities, credential rows and the traffic bundle.

Families and kinds of injected incidents (``KIND_FAMILY``), with the subject each kind names:

    anomalous_pull    mass_pull, new_network, new_client, enumeration, large_egress, slow_exfiltration,
                      blob_exfiltration, egress_burst (identity); anonymous_pull (repository)
    stale_credential  dormant_credential, expired_credential_used, credential_many_addresses,
                      never_used_credential, unrotated_credential, dormant_robot_external (identity)
    tag_overwrite     release_tag_overwrite, tag_moved_back, protected_tag_by_human (repository:tag);
                      protected_delete (repository); mass_delete (identity)
    suspicious_push   first_push_to_repo, off_hours_push, push_outside_ci, human_push_ci_repo,
                      habitual_pusher_protected (identity); unsigned_production_pull (repository:tag)
    proxy             brute_force, password_spray, slow_brute_force (client address); authorization_probing
                      (identity); audit_gap (the registry replica, ``source.addr``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

Family = Literal["anomalous_pull", "stale_credential", "tag_overwrite", "suspicious_push", "proxy"]
CredentialKind = Literal["user", "robot", "token"]

KIND_FAMILY: dict[str, Family] = {
    "mass_pull": "anomalous_pull",
    "new_network": "anomalous_pull",
    "new_client": "anomalous_pull",
    "anonymous_pull": "anomalous_pull",
    "enumeration": "anomalous_pull",
    "large_egress": "anomalous_pull",
    "dormant_credential": "stale_credential",
    "expired_credential_used": "stale_credential",
    "credential_many_addresses": "stale_credential",
    "never_used_credential": "stale_credential",
    "unrotated_credential": "stale_credential",
    "release_tag_overwrite": "tag_overwrite",
    "tag_moved_back": "tag_overwrite",
    "protected_delete": "tag_overwrite",
    "first_push_to_repo": "suspicious_push",
    "off_hours_push": "suspicious_push",
    "push_outside_ci": "suspicious_push",
    "human_push_ci_repo": "suspicious_push",
    "unsigned_production_pull": "suspicious_push",
    "brute_force": "proxy",
    "password_spray": "proxy",
    "authorization_probing": "proxy",
    "audit_gap": "proxy",
    # variants the first thresholds missed (issue 16, ``variants.py``)
    "slow_exfiltration": "anomalous_pull",
    "blob_exfiltration": "anomalous_pull",
    "egress_burst": "anomalous_pull",
    "dormant_robot_external": "stale_credential",
    "protected_tag_by_human": "tag_overwrite",
    "habitual_pusher_protected": "suspicious_push",
    "slow_brute_force": "proxy",
    "mass_delete": "tag_overwrite",
}


class Notification(NamedTuple):
    """One POST the registry made to the webhook: when, and the exact body bytes (one event per envelope)."""

    posted_at: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class Label:
    """One injected incident: the ground truth a detection is scored against.

    Fields:
        family, kind: see ``KIND_FAMILY``.
        subject: what a finding should name: an identity, ``repository[:tag]``, a client address or a replica.
        start, end: UTC span of the incident's traffic.
        event_ids: notification event ids the incident produced (all present in the traffic).
        request_ids: the registry ``request.id`` values of those events.
        proxy_request_ids: nginx ``$request_id`` values of the incident's access lines (JSON format only).
        missing_event_ids: for ``audit_gap``, the events the registry lost (absent from the traffic).
        identity, repository, tag, address: the structured parts of the subject, where they apply.
        also: other detections this incident legitimately triggers as well, each named by its family and the
            kind it is meant to catch (``family/kind``, as in ``regaudit.analytics.evaluation.KINDS``): e.g.
            ``stale_credential/dormant_robot_external`` names ``credential.first_external_use``. A detection of
            the label's own family needs no entry.
        detail: one human sentence.
    """

    family: Family
    kind: str
    subject: str
    start: datetime
    end: datetime
    event_ids: tuple[str, ...] = ()
    request_ids: tuple[str, ...] = ()
    proxy_request_ids: tuple[str, ...] = ()
    missing_event_ids: tuple[str, ...] = ()
    identity: str | None = None
    repository: str | None = None
    tag: str | None = None
    address: str | None = None
    also: tuple[str, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "kind": self.kind,
            "subject": self.subject,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "event_ids": list(self.event_ids),
            "request_ids": list(self.request_ids),
            "proxy_request_ids": list(self.proxy_request_ids),
            "missing_event_ids": list(self.missing_event_ids),
            "identity": self.identity,
            "repository": self.repository,
            "tag": self.tag,
            "address": self.address,
            "also": list(self.also),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One row of the credential inventory (the ``credentials import`` CSV/JSON shape)."""

    name: str
    kind: CredentialKind
    owner: str
    created_at: datetime
    rotated_at: datetime | None
    expires_at: datetime | None

    def to_dict(self) -> dict[str, str | None]:
        def text(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "kind": self.kind,
            "owner": self.owner,
            "created_at": text(self.created_at),
            "rotated_at": text(self.rotated_at),
            "expires_at": text(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class Identity:
    """Who talks to the registry: role is human, ci, production, staging, scanner, renovate, cleanup, deploy,
    batch (the monthly job), quiet (robots silent for weeks), inventory (lists only), trainer (heavy daily
    pulls) or dormant; networks are the CIDRs its normal traffic comes from."""

    name: str
    kind: CredentialKind
    role: str
    team: str
    networks: tuple[str, ...]
    user_agent: str


@dataclass(slots=True)
class Traffic:
    """A whole simulated period, in memory (``simulate``). ``org`` is the ``[org]`` section for the
    detections; ``facts`` holds what the simulator knows beyond it (scanner identities, CI-only
    repositories...)."""

    seed: int
    start: datetime
    end: datetime
    notifications: list[Notification] = field(default_factory=list)
    access_lines: list[bytes] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    credentials: list[CredentialRow] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    org: dict[str, object] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
