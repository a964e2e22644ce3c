"""Bytes pulled within an hour far above the identity's own largest hours, and above an absolute floor."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, history, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
GIB = 1 << 30


class Params(Parameters):
    baseline_days: int = Field(14, ge=1, description="Prior days whose hours form the identity's hourly history.")
    min_history_days: int = Field(7, ge=1, description="Days since the identity's first pull before it is judged.")
    min_active_days: int = Field(3, ge=1, description="Days with pulls in the prior baseline_days before it is judged.")
    peak_factor: float = Field(2.0, gt=1, description="Times the identity's largest prior hour that fires.")
    busy_factor: float = Field(
        3.0,
        gt=1,
        description="Times the identity's busy span (90th percentile of its prior spans) that fires above its peak.",
    )
    min_bytes: int = Field(10 << 30, ge=0, description="Bytes in one hour below which nothing fires.")


class PullEgressBurst(Detection):
    id = "pull.egress_burst"
    title = "Pull egress burst within one hour"
    severity = Severity.HIGH
    family = "pull"
    needs = frozenset({Data.BLOB_PULLS, Data.IDENTITY})
    description = (
        "Sums the bytes an identity downloaded per UTC hour (blob bytes folded into each image-level pull, or "
        "the proxy's bytes sent when larger; blob downloads without a manifest pull are blob-only pull rows and "
        "count too), judges each hour together with the hour before it (a burst of up to an hour that starts at "
        "11:55 lies within 11:00-13:00, not within one clock hour) and fires when such a two-hour span exceeds "
        "min_bytes and the identity's largest earlier span in the prior baseline_days, and either peak_factor "
        "times that peak or busy_factor times its busy span (the 90th percentile of its earlier spans): one "
        "heavy hour in its history does not hide a burst several times what the identity pulls when busy. The "
        "next span of the same burst is not reported again. pull.egress_baseline judges whole days, so a "
        "burst of tens of gigabytes inside one hour hides in the daily total of an identity that pulls a lot "
        "all day; a job that always pulls that much in its hour (a nightly mirror) sets its own peak and stays "
        "quiet. It learns before it judges: min_history_days since the identity's first pull and "
        "min_active_days with pulls in the prior baseline_days, all read from hours before the one judged, so "
        "a backfill finds what live runs find."
    )
    false_positives = (
        "A cluster scale-up or an emptied cache re-pulling every image within the hour.",
        "A mirror or replication job run for the first time with an existing credential.",
    )
    attack = ("T1530", "T1567")
    references = ("https://attack.mitre.org/techniques/T1530/",)
    parameters = Params
    sql = """
        WITH hourly AS (
            SELECT coalesce(actor, 'anonymous@' || client_addr) AS identity,
                   date_trunc('hour', occurred_at) AS hour,
                   sum(greatest(blob_bytes, coalesce(proxy_bytes_sent, 0))) AS bytes_count,
                   arg_min(client_addr, (occurred_at, activity_id)) AS client_addr
            FROM image_activity
            WHERE source = 'registry' AND action = 'pull' AND NOT is_check
              AND occurred_at >= date_trunc('hour', $since) - INTERVAL 1 DAY * $baseline_days
              AND occurred_at < $now
            GROUP BY ALL
        ),
        first_seen AS (  -- from all earlier pulls, not the window: a live run and a backfill agree
            SELECT coalesce(actor, 'anonymous@' || client_addr) AS identity, min(occurred_at) AS first_at
            FROM image_activity
            WHERE source = 'registry' AND action = 'pull' AND NOT is_check AND occurred_at < $now
            GROUP BY ALL
        ),
        spans AS (  -- each hour with the one before it: a burst of up to an hour lies within one such span
            SELECT *,
                   sum(bytes_count) OVER pair AS span_bytes,
                   first(client_addr) OVER pair AS span_addr
            FROM hourly
            WINDOW pair AS (PARTITION BY identity ORDER BY hour RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW)
        ),
        peaks AS (  -- the largest earlier span that does not overlap this one
            SELECT *,
                   max(span_bytes) OVER prior AS peak_bytes,
                   quantile_cont(span_bytes, 0.9) OVER prior AS busy_bytes,
                   list(DISTINCT date_trunc('day', hour)) OVER prior AS prior_days
            FROM spans
            WINDOW prior AS (
                PARTITION BY identity ORDER BY hour
                RANGE BETWEEN INTERVAL 1 DAY * $baseline_days PRECEDING AND INTERVAL 2 HOUR PRECEDING
            )
        ),
        bursts AS (
            SELECT p.*,
                   p.span_bytes >= $min_bytes AND p.span_bytes > coalesce(p.peak_bytes, 0)
                       AND (p.span_bytes > $peak_factor * coalesce(p.peak_bytes, 0)
                            OR p.span_bytes > $busy_factor * coalesce(p.busy_bytes, 0))
                       AND len(coalesce(p.prior_days, [])) >= $min_active_days
                       AND f.first_at <= p.hour - INTERVAL 1 DAY * $min_history_days AS fires
            FROM peaks AS p JOIN first_seen AS f ON f.identity = p.identity
        ),
        firsts AS (  -- one finding a burst: a span whose previous hour's span already fired is the same burst
            SELECT *, lag(fires) OVER (PARTITION BY identity ORDER BY hour) AS previous_fires,
                   lag(hour) OVER (PARTITION BY identity ORDER BY hour) AS previous_hour
            FROM bursts
        ),
        fired AS (
            SELECT * FROM firsts AS p
            WHERE p.hour >= date_trunc('hour', $since) AND p.fires
              AND NOT (coalesce(p.previous_fires, false) AND p.previous_hour = p.hour - INTERVAL 1 HOUR)
        ),
        evidence AS (  -- the pulls of a fired span only: listing every pull's id for every hour cost most of the run
            SELECT p.identity, p.hour,
                   list('image_activity:' || a.activity_id ORDER BY a.occurred_at, a.activity_id) AS span_ids
            FROM fired AS p
            JOIN image_activity AS a
              ON coalesce(a.actor, 'anonymous@' || a.client_addr) = p.identity
             AND a.occurred_at >= p.hour - INTERVAL 1 HOUR AND a.occurred_at < p.hour + INTERVAL 1 HOUR
            WHERE a.source = 'registry' AND a.action = 'pull' AND NOT a.is_check AND a.occurred_at < $now
            GROUP BY p.identity, p.hour
        )
        SELECT
            p.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            p.identity AS identity,
            p.span_addr AS client_addr,
            p.hour - INTERVAL 1 HOUR AS window_start_at,
            p.hour + INTERVAL 1 HOUR AS window_end_at,
            p.identity || ' downloaded ' || format_bytes(p.span_bytes::BIGINT) || ' between '
                || strftime(p.hour - INTERVAL 1 HOUR, '%Y-%m-%d %H:00') || ' and '
                || strftime(p.hour + INTERVAL 1 HOUR, '%H:00')
                || ' UTC against a largest two hours of ' || format_bytes(coalesce(p.peak_bytes, 0)::BIGINT)
                || ' over the prior ' || $baseline_days || ' days' AS summary,
            e.span_ids AS evidence_ids,
            p.span_bytes AS bytes_count,
            coalesce(p.peak_bytes, 0) AS peak_bytes
        FROM fired AS p JOIN evidence AS e ON e.identity = p.identity AND e.hour = p.hour
    """
    cases = (
        Case(
            "fires when an identity busy around the clock, never above 2 GiB an hour, pulls 45 GiB in one",
            rows=(
                *(pull(NOW - timedelta(minutes=30 * n + 7), actor="kube-prod", blob_bytes=GIB) for n in range(48, 700)),
                *burst(pull, "2025-05-10T03:00", 45, actor="kube-prod", blob_bytes=GIB, client_addr="10.9.9.9"),
            ),
            expect=1,
            about=({"identity": "kube-prod", "client_addr": "10.9.9.9"},),
            now=NOW,
            subjects=("kube-prod",),
        ),
        Case(
            "fires once for a 12 GiB burst from 11:50 to 12:10 that no clock hour holds above the floor",
            rows=(
                *(
                    pull(NOW - timedelta(minutes=30 * n + 7), actor="robot$trainer", blob_bytes=GIB)
                    for n in range(48, 700)
                ),
                *(pull(f"2025-05-10T11:{50 + m:02d}", actor="robot$trainer", blob_bytes=GIB) for m in range(6)),
                *(pull(f"2025-05-10T12:{m:02d}", actor="robot$trainer", blob_bytes=GIB) for m in range(6)),
            ),
            expect=1,
            about=({"identity": "robot$trainer"},),
            now=NOW,
            subjects=("robot$trainer",),
        ),
        Case(
            "fires when a trainer busy at 1.5 GiB an hour, once at 5 GiB, pulls 11 GiB within an hour",
            rows=(
                *(
                    pull(NOW - timedelta(minutes=60 * n + 7), actor="robot$ml", blob_bytes=3 * GIB // 2)
                    for n in range(30, 330)
                ),
                pull("2025-05-05T03:30", actor="robot$ml", blob_bytes=5 * GIB),
                *(pull(f"2025-05-10T12:{m:02d}", actor="robot$ml", blob_bytes=GIB) for m in range(0, 55, 5)),
            ),
            expect=1,
            about=({"identity": "robot$ml"},),
            now=NOW,
            subjects=("robot$ml",),
        ),
        Case(
            "quiet when a puller whose busy spans reach 6 GiB pulls 11 GiB, under twice its peak and three times busy",
            rows=(
                *(
                    pull(NOW - timedelta(minutes=60 * n + 7), actor="robot$big", blob_bytes=3 * GIB)
                    for n in range(30, 330)
                ),
                *(pull(f"2025-05-10T12:{m:02d}", actor="robot$big", blob_bytes=GIB) for m in range(0, 55, 5)),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for a nightly mirror that always pulls 40 GiB at 02:00, below the floor, and a new identity",
            rows=(
                *(
                    pull(
                        at("2025-05-10T02:00") - timedelta(days=day, seconds=-10 * n), actor="ci-mirror", blob_bytes=GIB
                    )
                    for day in range(15)
                    for n in range(40)
                ),
                *history(pull, NOW, days=14, per_day=2, actor="alice", blob_bytes=GIB // 10),
                *burst(pull, "2025-05-10T10:00", 8, actor="alice", blob_bytes=GIB),
                *history(pull, NOW, days=3, per_day=2, actor="newbie", blob_bytes=GIB // 10),
                *burst(pull, "2025-05-10T10:00", 30, actor="newbie", blob_bytes=GIB),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires for 45 GiB of layers fetched by digest without any manifest pull (blob-only rows)",
            rows=(
                *history(pull, NOW, days=14, per_day=4, actor="robot$cache", blob_bytes=GIB // 2),
                *(
                    pull(
                        f"2025-05-10T04:{minute:02d}", actor="robot$cache", tag=None, blob_only=True, blob_bytes=9 * GIB
                    )
                    for minute in (0, 10, 20, 30, 40)
                ),
            ),
            expect=1,
            about=({"identity": "robot$cache"},),
            now=NOW,
        ),
    )
