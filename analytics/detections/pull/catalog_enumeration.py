"""The repository catalog listed by someone who is not a registry administrator."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import access, at
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    repeat_days: int = Field(
        30, ge=1, description="Prior days in which a listing by the same identity makes it routine, not news."
    )


class CatalogEnumeration(Detection):
    id = "pull.catalog_enumeration"
    title = "Repository catalog listed by a non-administrator"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.REQUESTS})
    description = (
        "Any successful GET /v2/_catalog by an identity (the claimed user, else the client address) that is "
        "not in org.admin_identities, grouped per identity and UTC day. The catalog is usually an "
        "administrator's tool; anyone else listing every repository is mapping the registry. "
        "An identity that listed it on a day of the prior repeat_days is a routine lister (an inventory job, "
        "a UI) and was reported then; read from earlier days, so a backfill agrees with live runs."
    )
    false_positives = (
        "Registry UIs, backup or replication tools that list the catalog with their own credential.",
        "Token-authenticated clients carry no user in the proxy log, so administrators using tokens show up too.",
    )
    attack = ("T1613", "T1580")
    references = ("https://distribution.github.io/distribution/spec/api/#catalog",)
    parameters = Params
    sql = """
        SELECT
            coalesce(nullif(remote_user, ''), client_addr) AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            max(nullif(remote_user, '')) AS identity,
            CASE WHEN count(DISTINCT client_addr) = 1 THEN min(client_addr) END AS client_addr,
            date_trunc('day', request_at) AS window_start_at,
            date_trunc('day', request_at) + INTERVAL 1 DAY AS window_end_at,
            coalesce(any_value(nullif(remote_user, '')), 'an unnamed client') || ' listed the catalog ' || count(*)
                || ' time(s) from ' || string_agg(DISTINCT client_addr, ', ' ORDER BY client_addr) AS summary,
            list('access_log:' || line_key ORDER BY request_at, line_key) AS evidence_ids,
            count(*) AS requests_count,
            list(DISTINCT client_addr ORDER BY client_addr) AS client_addrs
        FROM access_log
        WHERE endpoint = 'catalog' AND status < 400
          AND NOT list_contains($admin_identities, coalesce(remote_user, ''))
          AND request_at >= date_trunc('day', $since) AND request_at < $now
          AND NOT EXISTS (  -- a routine lister: it listed the catalog on a day of the prior repeat_days
              SELECT 1 FROM access_log AS p
              WHERE p.endpoint = 'catalog' AND p.status < 400
                AND coalesce(nullif(p.remote_user, ''), p.client_addr)
                    = coalesce(nullif(access_log.remote_user, ''), access_log.client_addr)
                AND p.request_at < date_trunc('day', access_log.request_at)
                AND p.request_at >= date_trunc('day', access_log.request_at) - INTERVAL 1 DAY * $repeat_days
          )
        GROUP BY coalesce(nullif(remote_user, ''), client_addr), date_trunc('day', request_at)
    """
    cases = (
        Case(
            "fires when a developer lists the catalog with curl",
            rows=(
                access(
                    "2025-05-10T03:00",
                    endpoint="catalog",
                    uri="/v2/_catalog",
                    remote_user="alice",
                    user_agent="curl/8.5.0",
                ),
            ),
            expect=1,
            about=({"identity": "alice", "client_addr": "10.0.0.5"},),
            now=NOW,
            subjects=("alice",),
        ),
        Case(
            "quiet for an administrator and for a refused request",
            rows=(
                access("2025-05-10T03:00", endpoint="catalog", uri="/v2/_catalog", remote_user="admin"),
                access("2025-05-10T03:00", endpoint="catalog", uri="/v2/_catalog", remote_user="eve", status=401),
            ),
            expect=0,
            now=NOW,
            org={"admin_identities": ["admin"]},
        ),
        Case(
            "fires once for a tool that lists the catalog every morning, on its first day",
            rows=tuple(
                access(f"2025-05-{day:02d}T07:00", endpoint="catalog", uri="/v2/_catalog", remote_user="inventory")
                for day in (5, 6)
            ),
            expect=1,
            now=at("2025-05-06T18:00"),
            subjects=("inventory",),
        ),
    )
