"""Requests the proxy served successfully that the registry's audit feed never reported."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import DIGEST_A, activity, at, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class AuditFeedGap(Detection):
    id = "proxy.audit_gap"
    title = "Audit feed gap: served without a notification"
    severity = Severity.HIGH
    family = "proxy"
    needs = frozenset({Data.REQUESTS, Data.MANIFEST_PULLS, Data.PUSHES})
    description = (
        "Image activity the proxy saw answered with 2xx (a manifest GET or PUT) for which no registry "
        "notification arrived (image_activity.audit_gap), per registry, repository, tag and UTC hour, so the "
        "finding names what went unaudited. The registry's notification queue is in memory and drops events on "
        "restarts or overflow, and a registry reached "
        "around the notification path leaves no audit trail: either way pushes and pulls went unrecorded."
    )
    false_positives = (
        "Notifications still in flight when the hour is analysed (they clear once ingested).",
        "Registry restarts, which drop queued notifications (a real gap, but not an attack).",
    )
    attack = ("T1562.008",)
    references = ("https://distribution.github.io/distribution/about/notifications/",)
    sql = """
        SELECT
            registry || ' ' || repository || coalesce(':' || tag, '') AS subject,
            registry,
            repository,
            tag,
            CASE WHEN count(DISTINCT digest) = 1 THEN min(digest) END AS digest,
            CAST(NULL AS VARCHAR) AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('hour', occurred_at) AS window_start_at,
            date_trunc('hour', occurred_at) + INTERVAL 1 HOUR AS window_end_at,
            count(*) || ' request(s) for ' || repository || coalesce(':' || tag, ' by digest')
                || ' served without an audit event on ' || registry || ' ('
                || count(*) FILTER (WHERE action = 'push') || ' pushes, '
                || count(*) FILTER (WHERE action = 'pull') || ' pulls)' AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at, activity_id) AS evidence_ids,
            count(*) AS gaps_count
        FROM image_activity
        WHERE audit_gap
          AND occurred_at >= date_trunc('hour', $since) AND occurred_at < $now
        GROUP BY registry, repository, tag, date_trunc('hour', occurred_at)
    """
    cases = (
        Case(
            "fires for a push the proxy served without a notification",
            rows=(activity("2025-05-10T09:00", action="push", source="proxy", audit_gap=True, proxy_status=201),),
            expect=1,
            now=NOW,
            subjects=("default team/app:v1",),
            about=({"registry": "default", "repository": "team/app", "tag": "v1", "identity": None},),
        ),
        Case(
            "names each repository and tag that went unaudited in the hour, a pull by digest without a tag",
            rows=(
                activity("2025-05-10T09:00", source="proxy", audit_gap=True, proxy_status=200),
                activity("2025-05-10T09:10", source="proxy", audit_gap=True, proxy_status=200),
                activity(
                    "2025-05-10T09:20", repository="team/db", tag=None, source="proxy", audit_gap=True, proxy_status=200
                ),
            ),
            expect=2,
            now=NOW,
            subjects=("default team/app:v1", "default team/db"),
            about=(
                {"registry": "default", "repository": "team/app", "tag": "v1"},
                {"registry": "default", "repository": "team/db", "tag": None, "digest": DIGEST_A},
            ),
        ),
        Case(
            "quiet when every served request has its notification",
            rows=(pull("2025-05-10T09:00", proxy_status=200),),
            expect=0,
            now=NOW,
        ),
    )
