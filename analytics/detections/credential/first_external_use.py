"""An identity only ever seen inside the organisation's networks used from outside them for the first time."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, credential, history, pull
from regaudit.analytics.functions import MACHINE_PATTERNS, PRIVATE_NETWORKS
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
ORG = {"internal_networks": ["10.8.0.0/16"], "ci_networks": ["10.20.0.0/16"]}


class Params(Parameters):
    min_inside_days: int = Field(2, ge=1, description="Days with use from inside before outside counts as new.")
    dormant_days: int = Field(
        14, ge=1, description="Days of silence before the outside use that make it a reactivation (high)."
    )
    machine_patterns: list[str] = Field(
        list(MACHINE_PATTERNS),
        description="Name globs of machine identities (robots, CI, deployers, clusters) besides "
        "org.ci_identities and the inventory's robot and token kinds.",
    )
    fallback_networks: list[str] = Field(
        list(PRIVATE_NETWORKS),
        description="What counts as inside when neither org.internal_networks nor org.ci_networks is set.",
    )


class CredentialFirstExternalUse(Detection):
    id = "credential.first_external_use"
    title = "First use from outside the internal networks"
    severity = Severity.MEDIUM
    family = "credential"
    needs = frozenset({Data.IDENTITY, Data.CLIENT_ADDRESS})
    description = (
        "An identity whose accepted uses on at least min_inside_days days all came from org.internal_networks "
        "or org.ci_networks (private address space when neither is set) is used from an address outside them "
        "for the first time. A credential that only ever worked from the office, the VPN or the runners and "
        "now works from the internet was copied: leaked in a CI log, an image layer or a laptop. It needs no "
        "baseline of networks, so it also sees a robot that kept quiet for weeks. Severity high for a machine "
        "identity (org.ci_identities, the inventory's robot and token kinds, machine_patterns) or one silent for "
        "dormant_days before, medium for a person. It fires once per identity, on its first outside use."
    )
    false_positives = (
        "A person working from home or travelling without the VPN, the first time.",
        "Runners or clusters moved to a cloud or network org.ci_networks does not list yet.",
    )
    attack = ("T1078", "T1078.004", "T1552")
    references = (
        "https://attack.mitre.org/techniques/T1078/004/",
        "https://attack.mitre.org/techniques/T1552/",
    )
    parameters = Params
    sql = """
        WITH uses AS (  -- accepted uses before $now per identity, day, address (and client): the daily rollups
            SELECT identity, client_addr, day, first_at, last_at
            FROM identity_clients($now)
            WHERE accepted AND client_addr IS NOT NULL
        ),
        addresses AS (  -- in_networks is Python: once per distinct address
            SELECT client_addr,
                   in_networks(client_addr, CASE WHEN len($known_networks) > 0 THEN $known_networks
                                                 ELSE $fallback_networks END) AS inside
            FROM (SELECT DISTINCT client_addr FROM uses)
        ),
        marked AS MATERIALIZED (
            SELECT u.*, a.inside FROM uses AS u JOIN addresses AS a ON a.client_addr = u.client_addr
        ),
        first_outside AS (  -- each identity's first use from outside
            SELECT identity, min(first_at) AS seen_at, arg_min(client_addr, (first_at, client_addr)) AS client_addr
            FROM marked WHERE NOT inside GROUP BY identity
        ),
        judged AS (  -- the days with a use before it, and the last use before it where the rollups tell it: not
                     -- when a row of its day began before it and ended at or after it (straddled)
            SELECT o.identity, o.seen_at, o.client_addr,
                   count(DISTINCT m.day) AS inside_days_count,
                   max(m.last_at) FILTER (WHERE m.last_at < o.seen_at) AS settled_at,
                   bool_or(m.last_at >= o.seen_at) AS straddled
            FROM first_outside AS o
            JOIN marked AS m ON m.identity = o.identity AND m.first_at < o.seen_at
            WHERE o.seen_at >= $since
            GROUP BY ALL
            HAVING count(DISTINCT m.day) >= $min_inside_days
        ),
        window_uses AS (  -- the rows of the judged days (from $since's day on): the straddled days, the first use
            SELECT identity, client_addr, seen_at, evidence_id
            FROM identity_activity
            WHERE accepted AND client_addr IS NOT NULL AND seen_at >= date_trunc('day', $since) AND seen_at < $now
        ),
        previous AS (  -- the use before the first outside one, where a straddling row hides it: that day's rows
            SELECT j.identity, max(u.seen_at) AS previous_at
            FROM judged AS j
            JOIN window_uses AS u ON u.identity = j.identity AND u.seen_at < j.seen_at
             AND u.seen_at >= date_trunc('day', j.seen_at)
            WHERE j.straddled
            GROUP BY j.identity
        ),
        graded AS (
            SELECT j.identity, j.seen_at, j.client_addr, j.inside_days_count,
                   coalesce(p.previous_at, j.settled_at) AS previous_at
            FROM judged AS j LEFT JOIN previous AS p ON p.identity = j.identity
        ),
        classed AS (
            SELECT g.*,
                   list_contains($ci_identities, g.identity) OR c.kind IN ('robot', 'token')
                       OR glob_any(g.identity, $machine_patterns) AS machine,
                   g.seen_at - g.previous_at >= INTERVAL 1 DAY * $dormant_days AS dormant
            FROM graded AS g
            LEFT JOIN current_credentials AS c ON c.name = g.identity
        ),
        cited AS (  -- the two uses a finding cites, by identity and exact time: the read meets only their rows
            SELECT identity, seen_at AS cited_at FROM classed
            UNION
            SELECT identity, previous_at FROM classed
        ),
        cited_uses AS (
            SELECT a.identity, a.client_addr, a.seen_at, a.evidence_id
            FROM identity_activity AS a
            JOIN cited AS t ON t.identity = a.identity AND t.cited_at = a.seen_at
            WHERE a.accepted AND a.client_addr IS NOT NULL
        ),
        evidence AS (  -- the first use from outside and the use before it
            SELECT g.identity,
                   min(u.evidence_id) FILTER (WHERE u.seen_at = g.seen_at AND u.client_addr = g.client_addr)
                       AS first_evidence_id,
                   min(u.evidence_id) FILTER (WHERE u.seen_at = g.previous_at) AS previous_evidence_id
            FROM classed AS g
            JOIN cited_uses AS u ON u.identity = g.identity AND u.seen_at IN (g.seen_at, g.previous_at)
            GROUP BY g.identity
        )
        SELECT
            g.identity || ' from ' || g.client_addr AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            g.identity,
            g.client_addr,
            g.seen_at AS window_start_at,
            g.seen_at AS window_end_at,
            CASE WHEN g.machine OR g.dormant THEN 'high' ELSE 'medium' END AS severity,
            g.identity || ' used from ' || g.client_addr || ', outside every internal network, for the first time'
                || ' (' || g.inside_days_count || ' days of use from inside before'
                || CASE WHEN g.dormant THEN ', silent ' || date_diff('day', g.previous_at, g.seen_at) || ' days'
                        ELSE '' END
                || CASE WHEN g.machine THEN '; a machine identity' ELSE '' END || ')' AS summary,
            [e.first_evidence_id, e.previous_evidence_id] AS evidence_ids,
            g.inside_days_count,
            date_diff('day', g.previous_at, g.seen_at) AS idle_days_count
        FROM classed AS g JOIN evidence AS e ON e.identity = g.identity
    """
    cases = (
        Case(
            "fires high when a robot that only pulled from the runners resumes at night from the internet",
            rows=(
                *history(pull, "2025-04-20", days=10, per_day=2, actor="robot$release", client_addr="10.20.1.5"),
                pull("2025-05-10T02:30", actor="robot$release", client_addr="198.51.100.23"),
            ),
            expect=1,
            about=({"identity": "robot$release", "client_addr": "198.51.100.23"},),
            now=NOW,
            org=ORG,
            subjects=("robot$release from 198.51.100.23",),
        ),
        Case(
            "fires for a person's first use from outside, once, with private space inside when nothing is set",
            rows=(
                *history(pull, NOW, days=5, per_day=2, actor="alice", client_addr="192.168.4.20"),
                pull("2025-05-10T10:00", actor="alice", client_addr="203.0.113.9"),
                pull("2025-05-10T11:00", actor="alice", client_addr="203.0.113.10"),
            ),
            expect=1,
            about=({"identity": "alice", "client_addr": "203.0.113.9"},),
            now=NOW,
        ),
        Case(
            "quiet for an identity often seen outside, one new this week, and one inside on a new subnet",
            rows=(
                *history(pull, NOW, days=10, per_day=1, actor="bob", client_addr=lambda i: f"203.0.113.{i + 1}"),
                pull("2025-05-10T10:00", actor="bob", client_addr="198.51.100.4"),
                *history(pull, NOW, days=1, per_day=2, actor="newcomer", client_addr="10.8.1.1"),
                pull("2025-05-10T10:00", actor="newcomer", client_addr="198.51.100.5"),
                credential("robot$ci", "2025-05-01"),
                *history(pull, NOW, days=10, per_day=2, actor="robot$ci", client_addr="10.20.1.5"),
                pull("2025-05-10T02:30", actor="robot$ci", client_addr="10.8.200.1"),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
