"""Bytes pulled in one hour far above the identity's own largest hours, and above an absolute floor."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, history, pull

NOW = at("2025-05-10T18:00")
GIB = 1 << 30


class Params(Parameters):
    baseline_days: int = Field(14, ge=1, description="Prior days whose hours form the identity's hourly history.")
    min_history_days: int = Field(7, ge=1, description="Days since the identity's first pull before it is judged.")
    min_active_days: int = Field(3, ge=1, description="Days with pulls in the prior baseline_days before it is judged.")
    peak_factor: float = Field(2.0, gt=1, description="Times the identity's largest prior hour that fires.")
    min_bytes: int = Field(10 << 30, ge=0, description="Bytes in one hour below which nothing fires.")


class PullEgressBurst(Detection):
    id = "pull.egress_burst"
    title = "Pull egress burst within one hour"
    severity = Severity.HIGH
    family = "pull"
    description = (
        "Sums the bytes an identity downloaded per UTC hour (blob bytes folded into each image-level pull, or "
        "the proxy's bytes sent when larger; blob downloads without a manifest pull are blob-only pull rows and "
        "count too) and fires when an hour exceeds min_bytes and peak_factor times "
        "the identity's largest hour in the prior baseline_days. pull.egress_baseline judges whole days, so a "
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
                   arg_min(client_addr, occurred_at) AS client_addr,
                   list('image_activity:' || activity_id ORDER BY occurred_at) AS ids
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
        peaks AS (
            SELECT *,
                   max(bytes_count) OVER prior AS peak_bytes,
                   list(DISTINCT date_trunc('day', hour)) OVER prior AS prior_days
            FROM hourly
            WINDOW prior AS (
                PARTITION BY identity ORDER BY hour
                RANGE BETWEEN INTERVAL 1 DAY * $baseline_days PRECEDING AND INTERVAL 1 HOUR PRECEDING
            )
        )
        SELECT
            p.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            p.identity AS identity,
            p.client_addr,
            p.hour AS window_start_at,
            p.hour + INTERVAL 1 HOUR AS window_end_at,
            p.identity || ' downloaded ' || format_bytes(p.bytes_count::BIGINT) || ' between '
                || strftime(p.hour, '%Y-%m-%d %H:00') || ' and ' || strftime(p.hour + INTERVAL 1 HOUR, '%H:00')
                || ' UTC against a largest hour of ' || format_bytes(coalesce(p.peak_bytes, 0)::BIGINT)
                || ' over the prior ' || $baseline_days || ' days' AS summary,
            p.ids AS evidence_ids,
            p.bytes_count,
            coalesce(p.peak_bytes, 0) AS peak_bytes
        FROM peaks AS p
        JOIN first_seen AS f ON f.identity = p.identity
        WHERE p.hour >= date_trunc('hour', $since)
          AND f.first_at <= p.hour - INTERVAL 1 DAY * $min_history_days
          AND len(coalesce(p.prior_days, [])) >= $min_active_days
          AND p.bytes_count >= $min_bytes
          AND p.bytes_count > $peak_factor * coalesce(p.peak_bytes, 0)
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
