"""Pushes by people outside business hours in the organisation's time zone."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import at, push

NOW = at("2025-05-12T18:00")


class OffHoursPush(Detection):
    id = "push.off_hours"
    title = "Push outside business hours"
    severity = Severity.MEDIUM
    family = "push"
    description = (
        "Pushes by identities that are not in org.ci_identities, made outside org.business_hours or on a day "
        "outside org.business_days in org.timezone, grouped per identity, repository and UTC day. A person "
        "pushing images at 03:00 or on a Sunday is unusual; an intruder's working hours are not yours."
    )
    false_positives = (
        "On-call hotfixes and people working in another time zone.",
        "CI identities not listed.",
    )
    attack = ("T1525", "T1078")
    references = ("https://research.splunk.com/cloud/aws_ecr_container_upload_outside_business_hours/",)
    sql = """
        WITH pushes AS (
            SELECT *, timezone($timezone, occurred_at) AS local_at
            FROM image_activity
            WHERE source = 'registry' AND action = 'push'
              AND NOT list_contains($ci_identities, coalesce(actor, ''))
              AND occurred_at >= date_trunc('day', $since) AND occurred_at < $now
        )
        SELECT
            coalesce(actor, 'anonymous') || ' to ' || repository AS subject,
            CASE WHEN count(DISTINCT registry) = 1 THEN min(registry) END AS registry,
            repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            actor AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', occurred_at) AS window_start_at,
            date_trunc('day', occurred_at) + INTERVAL 1 DAY AS window_end_at,
            coalesce(actor, 'anonymous') || ' pushed ' || count(*) || ' time(s) to ' || repository
                || ' outside business hours, first at ' || strftime(min(local_at), '%a %H:%M') || ' '
                || $timezone AS summary,
            list('image_activity:' || activity_id ORDER BY occurred_at) AS evidence_ids,
            count(*) AS pushes_count
        FROM pushes
        WHERE NOT list_contains($business_days, isodow(local_at))
           OR CASE WHEN $business_start <= $business_end
                   THEN CAST(local_at AS TIME) NOT BETWEEN $business_start AND $business_end
                   ELSE CAST(local_at AS TIME) < $business_start AND CAST(local_at AS TIME) > $business_end
              END
        GROUP BY actor, repository, date_trunc('day', occurred_at)
    """
    cases = (
        Case(
            "fires for a push at 03:00 Berlin time and one on a Sunday",
            rows=(
                push("2025-05-12T01:00", actor="alice"),
                push("2025-05-11T12:00", actor="bob", repository="team/api"),
            ),
            expect=2,
            about=(
                {"registry": "default", "repository": "team/app", "identity": "alice"},
                {"registry": "default", "repository": "team/api", "identity": "bob"},
            ),
            now=NOW,
            org={"timezone": "Europe/Berlin"},
        ),
        Case(
            "quiet for a push at 10:00 Berlin on a Monday and a night-time CI push",
            rows=(push("2025-05-12T08:00", actor="alice"), push("2025-05-12T01:00", actor="ci-bot")),
            expect=0,
            now=NOW,
            org={"timezone": "Europe/Berlin", "ci_identities": ["ci-bot"]},
        ),
    )
