"""A credential used with a kind of client it never used before (curl or skopeo where containerd ran)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, history, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    baseline_days: int = Field(30, ge=1, description="Prior days whose client families count as known.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")
    min_active_days: int = Field(
        4, ge=1, description="Days with activity in the prior baseline_days before the identity is judged."
    )


class CredentialNewClientFamily(Detection):
    id = "pull.new_client_family"
    title = "Credential used with a new kind of client"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.USER_AGENT, Data.IDENTITY})
    description = (
        "Classifies each user agent into a family (containerd, docker, buildkit, kubelet, cri-o, podman as "
        "runtimes; curl, skopeo, crane, oras, python-requests, go-http-client as tools; anything else as "
        "other) and fires the day an identity with history uses a tool or other family it did not use in the "
        "prior baseline_days. Runtimes swapping for runtimes (docker to containerd) stay quiet. A cluster "
        "credential suddenly driven by curl or skopeo is what credential theft looks like. It learns before it "
        "judges: min_history_days since the identity's first activity and min_active_days in the prior "
        "baseline_days (identity_history), read from earlier days only, so a backfill finds what live runs find. "
        "A week of use shows a person's tooling (one workstation runtime), so a script client in their second "
        "week is judged, not waved through as learning."
    )
    false_positives = (
        "An engineer debugging with curl or skopeo using a service account.",
        "Tool upgrades that change the user agent to an unknown string.",
    )
    attack = ("T1078", "T1530")
    references = ("https://docs.projectquay.io/use_quay.html",)
    parameters = Params
    sql = """
        WITH recent AS (  -- accepted uses per identity, day and user agent (and address) in the window: the rollups
            SELECT identity, user_agent, day, first_at
            FROM identity_clients($now)
            WHERE accepted AND user_agent IS NOT NULL
              AND day >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
        ),
        clients AS (  -- client_family and client_kind are Python: once per distinct user agent
            SELECT user_agent, client_family(user_agent) AS family, client_kind(user_agent) AS kind
            FROM (SELECT DISTINCT user_agent FROM recent)
        ),
        used AS MATERIALIZED (  -- each identity's client families per day
            SELECT r.identity, c.family, any_value(c.kind) AS kind, r.day, min(r.first_at) AS first_at
            FROM recent AS r JOIN clients AS c ON c.user_agent = r.user_agent
            GROUP BY r.identity, c.family, r.day
        ),
        family_first AS (  -- a tool family the identity did not use in the prior baseline_days, on a judged day
            SELECT u.*, h.first_day
            FROM used AS u
            JOIN identity_history($baseline_days) AS h ON h.identity = u.identity AND h.day = u.day
            WHERE u.kind <> 'runtime' AND u.day >= date_trunc('day', $since)
              AND h.first_day <= u.day - INTERVAL 1 DAY * $min_history_days
              AND h.recent_active_days_count >= $min_active_days
              AND NOT EXISTS (
                  SELECT 1 FROM used AS p
                  WHERE p.identity = u.identity AND p.family = u.family
                    AND p.day < u.day AND p.day >= u.day - INTERVAL 1 DAY * $baseline_days
              )
        ),
        cited AS (  -- the judged days' user agents of each judged family: the rows read below are theirs
            SELECT DISTINCT r.identity, r.user_agent, r.day, c.family
            FROM family_first AS f
            JOIN recent AS r ON r.identity = f.identity AND r.day = f.day
            JOIN clients AS c ON c.user_agent = r.user_agent AND c.family = f.family
        ),
        rows_cited AS (  -- judged days are from $since's day on
            SELECT c.family, a.identity, a.user_agent, a.seen_at, a.evidence_id
            FROM identity_activity AS a
            JOIN cited AS c ON c.user_agent = a.user_agent AND c.identity = a.identity
             AND c.day = date_trunc('day', a.seen_at)
            WHERE a.accepted AND a.seen_at >= date_trunc('day', $since) AND a.seen_at < $now
        )
        SELECT
            f.identity || ' with ' || f.family AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            f.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            f.day AS window_start_at,
            f.day + INTERVAL 1 DAY AS window_end_at,
            f.identity || ' used a new client family ' || f.family || ' (' || f.kind || ', '
                || count(*) || ' requests, e.g. ' || min(s.user_agent) || ')' AS summary,
            list(s.evidence_id ORDER BY s.seen_at, s.evidence_id) AS evidence_ids,
            f.family,
            list(DISTINCT s.user_agent ORDER BY s.user_agent) AS user_agents
        FROM family_first AS f
        JOIN rows_cited AS s ON s.identity = f.identity AND s.family = f.family AND date_trunc('day', s.seen_at) = f.day
        GROUP BY f.identity, f.family, f.kind, f.day
    """
    cases = (
        Case(
            "fires when a cluster credential that only used containerd is used with curl",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="kube-prod"),
                pull("2025-05-10T02:00", actor="kube-prod", user_agent="curl/8.5.0"),
            ),
            expect=1,
            about=({"identity": "kube-prod"},),
            now=NOW,
            subjects=("kube-prod with curl",),
        ),
        Case(
            "quiet when a runtime replaces another, or the tool was used before",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="kube-prod"),
                pull("2025-05-10T02:00", actor="kube-prod", user_agent="docker/27.3.1 go/go1.22.7"),
                *history(pull, NOW, days=20, per_day=1, actor="alice", user_agent="skopeo/1.9.3"),
                pull("2025-05-10T02:00", actor="alice", user_agent="skopeo/1.15.0"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when a person active on five of their first nine days pulls with python-requests",
            rows=(
                *(pull(NOW - timedelta(days=d, hours=6), actor="jonas") for d in (2, 3, 5, 7, 9)),
                pull("2025-05-10T11:00", actor="jonas", user_agent="python-requests/2.32.3"),
            ),
            expect=1,
            about=({"identity": "jonas"},),
            now=NOW,
            subjects=("jonas with python-requests",),
        ),
        Case(
            "quiet while the baseline is thin: a credential first seen five days ago tried with curl",
            rows=(
                *history(pull, NOW, days=5, per_day=3, actor="robot$new"),
                pull("2025-05-10T02:00", actor="robot$new", user_agent="curl/8.5.0"),
            ),
            expect=0,
            now=NOW,
        ),
    )
