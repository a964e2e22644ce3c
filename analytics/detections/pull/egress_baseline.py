"""Bytes pulled in a day far above the identity's own baseline, and above an absolute floor."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, history, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
MIB = 1 << 20


class Params(Parameters):
    baseline_days: int = Field(14, ge=3, description="Prior days the baseline covers.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")
    min_active_days: int = Field(2, ge=1, description="Days with activity among the prior days before it is judged.")
    mad_factor: float = Field(5.0, gt=0, description="How many scaled MADs above the median counts as anomalous.")
    min_ratio: float = Field(
        2.0, gt=1, description="Times the identity's median day the day must also exceed (a heavy puller's spread)."
    )
    min_bytes: int = Field(
        20 << 30, ge=0, description="Bytes a day below which nothing fires (a tenth of it floors the spread)."
    )


class PullEgressBaseline(Detection):
    id = "pull.egress_baseline"
    title = "Pull egress far above the identity's baseline"
    severity = Severity.HIGH
    family = "pull"
    needs = frozenset({Data.BLOB_PULLS, Data.IDENTITY})
    description = (
        "Sums the bytes an identity downloaded per UTC day (blob bytes folded into each image-level pull, or "
        "the proxy's bytes sent when larger) and compares the day with the identity's prior days, "
        "zero-filled since its first activity: it fires when the day exceeds both min_bytes and median + "
        "mad_factor * max(1.4826 * MAD, min_bytes / 10), and min_ratio times the median: a training robot "
        "pulling 28 GiB on a steady day and 40 GiB on a busy one is its own spread, not news. "
        "Data theft through a valid credential is large egress first."
        " It learns before it judges: min_history_days since the identity's first pull (read from all earlier "
        "data, so a live run and a backfill agree) and min_active_days with pulls among the prior days. The "
        "prior days are zero-filled, so a person who pulled on two days of their first week has learnt a "
        "near-zero baseline, and tens of gigabytes the next week is judged against it."
    )
    false_positives = (
        "New nodes pulling their whole image set, or a cache that was emptied.",
        "Registries that redirect blob downloads to object storage report no bytes at all (false negatives).",
    )
    attack = ("T1530", "T1567")
    references = ("https://en.wikipedia.org/wiki/Median_absolute_deviation",)
    parameters = Params
    sql = """
        WITH daily AS (
            SELECT coalesce(identity, 'anonymous@' || client_addr) AS identity,
                   date_trunc('day', occurred_at) AS day,
                   sum(greatest(blob_bytes, coalesce(proxy_bytes_sent, 0))) AS bytes_count
            FROM identified_activity  -- identity: the mapped person, else actor
            WHERE source = 'registry' AND action = 'pull' AND NOT is_check
              AND occurred_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
              AND occurred_at < $now
            GROUP BY ALL
        ),
        first_seen AS (  -- from all earlier data, not the window: a live run and a backfill agree
            SELECT coalesce(identity, 'anonymous@' || client_addr) AS identity,
                   date_trunc('day', min(occurred_at)) AS first_day
            FROM identified_activity
            WHERE source = 'registry' AND action = 'pull' AND NOT is_check AND occurred_at < $now
            GROUP BY ALL
        ),
        current AS (SELECT * FROM daily WHERE day >= date_trunc('day', $since)),
        prior AS (
            SELECT c.identity, c.day, coalesce(p.bytes_count, 0) AS bytes_count
            FROM current AS c
            JOIN first_seen AS f ON f.identity = c.identity
            CROSS JOIN range(1, $baseline_days + 1) AS r(days_back)
            LEFT JOIN daily AS p ON p.identity = c.identity AND p.day = c.day - INTERVAL 1 DAY * r.days_back
            WHERE c.day - INTERVAL 1 DAY * r.days_back >= f.first_day
        ),
        baseline AS (
            SELECT identity, day, count(*) AS history_days, count_if(bytes_count > 0) AS active_days_count,
                   median(bytes_count) AS median_bytes,
                   mad(bytes_count) AS mad_bytes
            FROM prior GROUP BY identity, day
        ),
        fired AS MATERIALIZED (
            SELECT c.*, b.history_days, b.median_bytes, b.mad_bytes
            FROM current AS c
            JOIN baseline AS b ON b.identity = c.identity AND b.day = c.day
            WHERE b.history_days >= $min_history_days AND b.active_days_count >= $min_active_days
              AND c.bytes_count >= $min_bytes
              AND c.bytes_count > b.median_bytes + $mad_factor * greatest(1.4826 * b.mad_bytes, $min_bytes / 10)
              AND c.bytes_count > $min_ratio * b.median_bytes
        ),
        evidence AS (  -- the rows of the fired days only (current days are from $since's day on)
            SELECT coalesce(a.identity, 'anonymous@' || a.client_addr) AS identity,
                   date_trunc('day', a.occurred_at) AS day,
                   list('image_activity:' || a.activity_id ORDER BY a.occurred_at, a.activity_id) AS ids
            FROM identified_activity AS a
            JOIN fired AS f ON f.identity = coalesce(a.identity, 'anonymous@' || a.client_addr)
             AND f.day = date_trunc('day', a.occurred_at)
            WHERE a.source = 'registry' AND a.action = 'pull' AND NOT a.is_check
              AND a.occurred_at >= date_trunc('day', $since) AND a.occurred_at < $now
            GROUP BY ALL
        )
        SELECT
            c.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            c.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            c.day AS window_start_at,
            c.day + INTERVAL 1 DAY AS window_end_at,
            c.identity || ' downloaded ' || format_bytes(c.bytes_count::BIGINT) || ' on '
                || CAST(c.day AS DATE)
                || ' against a median of ' || format_bytes(c.median_bytes::BIGINT) || ' over '
                || c.history_days || ' prior days' AS summary,
            e.ids AS evidence_ids,
            c.bytes_count,
            c.median_bytes,
            c.mad_bytes
        FROM fired AS c
        JOIN evidence AS e ON e.identity = c.identity AND e.day = c.day
    """
    cases = (
        Case(
            "fires when an identity that pulls 100 MiB a day pulls 30 GiB, not for 9 GiB",
            rows=(
                *history(pull, NOW, days=10, per_day=2, actor="alice", blob_bytes=50 * MIB),
                *burst(pull, "2025-05-10T10:00", 30, actor="alice", blob_bytes=1024 * MIB),
                *history(pull, NOW, days=10, per_day=2, actor="bob", blob_bytes=50 * MIB),
                *burst(pull, "2025-05-10T10:00", 30, actor="bob", blob_bytes=300 * MIB),
            ),
            expect=1,
            about=({"identity": "alice"},),
            now=NOW,
            subjects=("alice",),
        ),
        Case(
            "fires when a person who pulled on two days of their first week pulls 33 GiB, not one seen on one day",
            rows=(
                *(pull(NOW - timedelta(days=d, hours=4), actor="wen", blob_bytes=50 * MIB) for d in (6, 7)),
                *burst(pull, "2025-05-10T09:00", 33, actor="wen", blob_bytes=1024 * MIB),
                pull(NOW - timedelta(days=8, hours=4), actor="once", blob_bytes=50 * MIB),
                *burst(pull, "2025-05-10T09:00", 33, actor="once", blob_bytes=1024 * MIB),
            ),
            expect=1,
            about=({"identity": "wen"},),
            now=NOW,
            subjects=("wen",),
        ),
        Case(
            "quiet when a robot steady at 28 GiB a day pulls 40 GiB; fires when it pulls 65 GiB",
            rows=(
                *history(pull, NOW, days=10, per_day=28, actor="robot$trainer", blob_bytes=1024 * MIB),
                *burst(pull, "2025-05-10T00:00", 40, actor="robot$trainer", blob_bytes=1024 * MIB),
                *history(pull, NOW, days=10, per_day=28, actor="robot$trainer2", blob_bytes=1024 * MIB),
                *burst(pull, "2025-05-10T00:00", 65, actor="robot$trainer2", blob_bytes=1024 * MIB),
            ),
            expect=1,
            about=({"identity": "robot$trainer2"},),
            now=NOW,
            subjects=("robot$trainer2",),
        ),
        Case(
            "quiet below the absolute floor, and for an identity that always pulls that much",
            rows=(
                *history(pull, NOW, days=10, per_day=2, actor="alice", blob_bytes=5 * MIB),
                *burst(pull, "2025-05-10T10:00", 10, actor="alice", blob_bytes=100 * MIB),
                *history(pull, NOW, days=10, per_day=30, actor="kube", blob_bytes=1024 * MIB),
                *burst(pull, "2025-05-10T10:00", 30, actor="kube", blob_bytes=1024 * MIB),
            ),
            expect=0,
            now=NOW,
        ),
    )
