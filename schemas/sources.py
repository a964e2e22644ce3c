"""What each registry source records, in one place: the data behind ``docs/sources.md``'s table.

Detections declare what data they need (``Detection.needs``, a set of ``Data``); sources declare what they record
(``CAPABILITIES``). ``regaudit detections list --source <kind>`` is the difference: the detections a source feeds,
and for the others the data the source lacks. A test holds ``docs/sources.md``'s table to ``CAPABILITIES``, column
by column (a cell that starts with "no" is data the source lacks), so the page cannot drift from this module.

**Adding a source is one line in** ``CAPABILITIES``: its kind (the ``registry_kind`` its rows carry, or the log's
name) mapped to the ``Data`` it records, plus its row in the table of ``docs/sources.md`` (the kind in backticks in
its first two cells, one cell per ``Data`` column, "no: ..." where it lacks that data). Record only what the software
really sends: a detection that needs data a source lacks must stay quiet on it, never guess.

A deployment is often several sources (a registry and the proxy in front of it): ``applicable`` takes several kinds
and judges their union.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Data(StrEnum):
    """What a source records; each value is a column header of ``docs/sources.md``'s table."""

    PUSHES = "pushes"
    MANIFEST_PULLS = "manifest pulls"
    BLOB_PULLS = "blob pulls"
    DIGESTS = "digests"
    CLIENT_ADDRESS = "client address"
    USER_AGENT = "user agent"
    IDENTITY = "identity"
    HEAD_CHECKS = "HEAD checks"
    REFUSALS = "failed logins and refusals"
    DELETES = "deletes"
    REQUESTS = "every request"


_REGISTRY = frozenset(
    {Data.PUSHES, Data.MANIFEST_PULLS, Data.DIGESTS, Data.IDENTITY, Data.DELETES}
)  # what every registry's own audit feed says: who pushed, pulled and deleted which digest

#: Every source kind and the data it records. One line per source (see the module docstring).
CAPABILITIES: Mapping[str, frozenset[Data]] = {
    "distribution": _REGISTRY | {Data.BLOB_PULLS, Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.HEAD_CHECKS},
    "nginx": frozenset(
        {Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.IDENTITY, Data.HEAD_CHECKS, Data.REFUSALS, Data.REQUESTS}
    ),  # fmt: skip
    "harbor": _REGISTRY,
    "harbor-audit": _REGISTRY | {Data.REFUSALS},  # the audit log API: refused UI logins (2.13+), no request data
    "harbor-syslog": _REGISTRY,  # the same rows forwarded, without the result flag
    # Quay's usage logs: no digest of a push, and a HEAD is logged as a pull
    "quay": frozenset(
        {Data.PUSHES, Data.MANIFEST_PULLS, Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.IDENTITY, Data.REFUSALS}
        | {Data.DELETES}
    ),
    "artifactory": frozenset({Data.PUSHES, Data.DIGESTS, Data.DELETES}),  # webhooks: tags pushed and deleted only
    "artifactory-request": frozenset(
        {Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.IDENTITY, Data.HEAD_CHECKS, Data.REQUESTS}
    ),  # the request log, read like nginx's; a refused login names no user
    "gitlab": _REGISTRY | {Data.BLOB_PULLS, Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.HEAD_CHECKS},  # a fork
    "ecr": _REGISTRY | {Data.BLOB_PULLS, Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.REFUSALS},  # CloudTrail
    "acr": _REGISTRY | {Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.REFUSALS},  # resource logs; webhooks: no actor
    "gar": _REGISTRY | {Data.BLOB_PULLS, Data.CLIENT_ADDRESS, Data.USER_AGENT, Data.HEAD_CHECKS, Data.REFUSALS},
    "dockerhub": frozenset({Data.PUSHES, Data.DIGESTS, Data.IDENTITY, Data.DELETES}),  # audit log: no pulls, logins
    # the Usage page's pulls CSV: hourly counts per user, repository, tag or digest; an address only when alone
    "dockerhub-usage": frozenset({Data.MANIFEST_PULLS, Data.HEAD_CHECKS, Data.IDENTITY, Data.DIGESTS}),
    "ghcr": frozenset({Data.PUSHES, Data.DIGESTS, Data.IDENTITY, Data.DELETES}),  # GitHub audit log: no pulls
}
#: The source kinds of registries an organization runs itself, so a proxy log (nginx's) can stand in front of them and
#: add what they do not record; the managed and hosted registries (ECR, ACR, Artifact Registry, Docker Hub, GHCR)
#: are reached only through their vendor's feeds.
SELF_HOSTED = frozenset({"distribution", "harbor", "harbor-audit", "harbor-syslog", "quay", "gitlab", "artifactory"})


def records(kinds: Iterable[str]) -> frozenset[Data]:
    """The data a deployment of these source kinds records together; an unknown kind is a KeyError."""
    found: frozenset[Data] = frozenset()
    for kind in kinds:
        found |= CAPABILITIES[kind]
    return found


def missing(needs: Iterable[Data], kinds: Iterable[str]) -> tuple[Data, ...]:
    """What of ``needs`` these source kinds do not record, in ``Data`` order: empty when the detection applies."""
    have = records(kinds)
    wanted = set(needs)
    return tuple(data for data in Data if data in wanted and data not in have)
