"""A credential used from a network it was never seen on: a configured CIDR, else the address's /24 or /64."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, history, identity_mapping, pull
from regaudit.analytics.functions import PRIVATE_NETWORKS
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
ALICE_ARN = "arn:aws:iam::123456789012:user/alice"


class Params(Parameters):
    baseline_days: int = Field(30, ge=1, description="Prior days whose networks count as known.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")
    min_active_days: int = Field(
        4, ge=1, description="Days with activity in the prior baseline_days before the identity is judged."
    )
    fallback_networks: list[str] = Field(
        list(PRIVATE_NETWORKS),
        description="What counts as a known network when neither org.internal_networks nor org.ci_networks is set.",
    )
    pool_networks: int = Field(
        3,
        ge=2,
        description="Networks the identity used in one /16 (/48) in the prior baseline_days that make it a pool.",
    )


class CredentialNewNetwork(Detection):
    id = "pull.new_network"
    title = "Credential used from a new network"
    severity = Severity.MEDIUM
    family = "pull"
    needs = frozenset({Data.CLIENT_ADDRESS, Data.IDENTITY})
    description = (
        "Maps every accepted use of an identity to a network: the narrowest of org.ci_networks and "
        "org.internal_networks that holds the client address, otherwise its /24 (IPv4) or /64 (IPv6). It "
        "fires the day an identity uses a network it did not use in the prior baseline_days, when that network "
        "is outside every configured network, or is outside org.ci_networks for an identity in "
        "org.ci_identities: a CI token used off the runners, a credential used from the internet. With no "
        "network configured, private address space (fallback_networks) is the organisation's own. Baselines "
        "learn before they judge: the identity needs min_history_days since its first activity and "
        "min_active_days of activity in the prior baseline_days (identity_history), all read from days before "
        "the day judged, so a backfill finds what live runs would. An identity is the person the identity mapping "
        "names (regaudit identities import), so a person's history under one registry's name is the baseline of "
        "the names the person uses on the others; the finding lists the raw identities used. An unconfigured "
        "network inside a /16 (/48) "
        "where the identity already used pool_networks others is its address pool (runners, nodes, DHCP), not "
        "news. People moving between offices and VPNs stay quiet."
    )
    false_positives = (
        "Runner pools or clusters that moved to new addresses not listed in org.ci_networks.",
        "People travelling or working from home without a VPN listed in org.internal_networks.",
    )
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/18675",)
    parameters = Params
    sql = """
        WITH recent AS (  -- accepted uses per identity, day, address (and client) in the window: the daily rollups
            SELECT identity, client_addr, day, first_at
            FROM identity_clients($now)
            WHERE accepted AND client_addr IS NOT NULL
              AND day >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days
        ),
        networks AS (  -- network_of is Python: once per distinct address, not once per row
            SELECT client_addr, network,  -- the /16 (IPv4) or /48 (IPv6) of an address's own network
                   regexp_extract(network, '^([0-9]+\\.[0-9]+|[0-9a-f]*:[0-9a-f]*:[0-9a-f]*:)', 1) AS pool,
                   list_contains($known_networks, network)  -- nothing configured: private space is internal
                       OR len($known_networks) = 0 AND in_networks(client_addr, $fallback_networks) AS known
            FROM (
                SELECT client_addr, network_of(client_addr, $known_networks) AS network
                FROM (SELECT DISTINCT client_addr FROM recent)
            )
        ),
        used AS MATERIALIZED (  -- each identity's networks per day
            SELECT r.identity, n.network, any_value(n.pool) AS pool, bool_and(n.known) AS known, r.day,
                   min(r.first_at) AS first_at
            FROM recent AS r JOIN networks AS n ON n.client_addr = r.client_addr
            GROUP BY r.identity, n.network, r.day
        ),
        candidates AS (  -- first use of a network in baseline_days, on a judged day
            SELECT u.* FROM used AS u
            WHERE u.day >= date_trunc('day', $since)
              AND (NOT u.known
                   OR list_contains($ci_identities, u.identity) AND NOT list_contains($ci_networks, u.network))
              AND NOT EXISTS (
                  SELECT 1 FROM used AS p
                  WHERE p.identity = u.identity AND p.network = u.network
                    AND p.day < u.day AND p.day >= u.day - INTERVAL 1 DAY * $baseline_days
              )
        ),
        judged AS (  -- the identity has learnt a baseline, and the network is not inside its address pool
            SELECT c.*, h.first_day
            FROM candidates AS c
            JOIN identity_history($baseline_days) AS h ON h.identity = c.identity AND h.day = c.day
            WHERE h.first_day <= c.day - INTERVAL 1 DAY * $min_history_days
              AND h.recent_active_days_count >= $min_active_days
              AND (c.pool = '' OR c.known OR (
                  SELECT count(DISTINCT p.network) FROM used AS p
                  WHERE p.identity = c.identity AND p.pool = c.pool AND p.network <> c.network
                    AND p.day < c.day AND p.day >= c.day - INTERVAL 1 DAY * $baseline_days
              ) < $pool_networks)
        ),
        cited AS (  -- the judged days' addresses of each judged network: the rows read below are theirs
            SELECT DISTINCT r.identity, r.client_addr, r.day, n.network
            FROM judged AS j
            JOIN recent AS r ON r.identity = j.identity AND r.day = j.day
            JOIN networks AS n ON n.client_addr = r.client_addr AND n.network = j.network
        ),
        rows_cited AS (  -- judged days are from $since's day on
            SELECT c.network, a.identity, a.client_addr, a.seen_at, a.evidence_id, a.raw_identity
            FROM identity_activity AS a
            JOIN cited AS c ON c.client_addr = a.client_addr AND c.identity = a.identity
             AND c.day = date_trunc('day', a.seen_at)
            WHERE a.accepted AND a.seen_at >= date_trunc('day', $since) AND a.seen_at < $now
        )
        SELECT
            n.identity || ' from ' || n.network AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            n.identity AS identity,
            arg_min(s.client_addr, (s.seen_at, s.client_addr)) AS client_addr,
            n.day AS window_start_at,
            n.day + INTERVAL 1 DAY AS window_end_at,
            n.identity || ' used from new network ' || n.network || ' (' || count(*) || ' requests, first at '
                || strftime(n.first_at, '%H:%M') || ' UTC); known since ' || CAST(n.first_day AS DATE)
                || CASE WHEN bool_and(s.raw_identity = n.identity) THEN ''  -- a mapped person: the names it used
                        ELSE ' (as ' || string_agg(DISTINCT s.raw_identity, ', ' ORDER BY s.raw_identity) || ')' END
                AS summary,
            list(s.evidence_id ORDER BY s.seen_at, s.evidence_id) AS evidence_ids,
            n.network,
            list(DISTINCT s.client_addr ORDER BY s.client_addr) AS client_addrs,
            list(DISTINCT s.raw_identity ORDER BY s.raw_identity) AS raw_identities
        FROM judged AS n
        JOIN rows_cited AS s
          ON s.identity = n.identity AND s.network = n.network AND date_trunc('day', s.seen_at) = n.day
        GROUP BY n.identity, n.network, n.day, n.first_at, n.first_day
    """
    cases = (
        Case(
            "fires when a CI token that always came from the runners pulls from an unknown /24",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="ci-bot", client_addr=lambda i: f"10.8.0.{i + 1}"),
                pull("2025-05-10T02:00", actor="ci-bot", client_addr="203.0.113.50"),
            ),
            expect=1,
            about=({"identity": "ci-bot", "client_addr": "203.0.113.50"},),
            now=NOW,
            subjects=("ci-bot from 203.0.113.0/24",),
        ),
        Case(
            "fires when a CI identity pulls from the office network",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="ci-bot", client_addr="10.20.0.9"),
                pull("2025-05-10T02:00", actor="ci-bot", client_addr="10.8.3.3"),
            ),
            expect=1,
            now=NOW,
            org={
                "ci_identities": ["ci-bot"],
                "ci_networks": ["10.20.0.0/16"],
                "internal_networks": ["10.8.0.0/16"],
            },
            subjects=("ci-bot from 10.8.0.0/16",),
        ),
        Case(
            "quiet for a new runner inside the CI network, a person moving to the VPN, and a new identity",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="ci-bot", client_addr="10.20.0.1"),
                pull("2025-05-10T02:00", actor="ci-bot", client_addr="10.20.200.7"),
                *history(pull, NOW, days=20, per_day=3, actor="alice", client_addr="10.8.0.1"),
                pull("2025-05-10T02:00", actor="alice", client_addr="10.10.4.4"),
                pull("2025-05-10T02:00", actor="newcomer", client_addr="198.51.100.7"),
            ),
            expect=0,
            now=NOW,
            org={
                "ci_identities": ["ci-bot"],
                "ci_networks": ["10.20.0.0/16"],
                "internal_networks": ["10.8.0.0/16", "10.10.0.0/16"],
            },
        ),
        Case(
            "quiet while the baseline is thin: an identity first seen five days ago, or active on three of thirty days",
            rows=(
                *history(pull, NOW, days=5, per_day=3, actor="newish", client_addr="10.8.0.1"),
                pull("2025-05-10T02:00", actor="newish", client_addr="203.0.113.50"),
                pull("2025-04-01T10:00", actor="rare", client_addr="10.8.0.2"),
                pull("2025-04-20T10:00", actor="rare", client_addr="10.8.0.2"),
                pull("2025-05-01T10:00", actor="rare", client_addr="10.8.0.2"),
                pull("2025-05-10T02:00", actor="rare", client_addr="203.0.113.51"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires when a person seen on four days from the office, first two weeks ago, pulls from the internet",
            rows=(
                *(
                    pull(NOW - timedelta(days=d, hours=6), actor="anna", client_addr="10.10.2.176")
                    for d in (3, 5, 12, 14)
                ),
                pull("2025-05-10T12:28", actor="anna", client_addr="146.190.226.108"),
            ),
            expect=1,
            about=({"identity": "anna", "client_addr": "146.190.226.108"},),
            now=NOW,
            subjects=("anna from 146.190.226.0/24",),
        ),
        Case(
            "quiet for a new /24 inside the /16 pool a runner identity already spreads over, not for one outside it",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="runner", client_addr=lambda i: f"10.20.{i % 9}.7"),
                pull("2025-05-10T02:00", actor="runner", client_addr="10.20.77.7"),
                pull("2025-05-10T03:00", actor="runner", client_addr="198.51.100.7"),
            ),
            expect=1,
            now=NOW,
            org={"internal_networks": ["192.168.0.0/16"]},
            subjects=("runner from 198.51.100.0/24",),
        ),
        Case(
            "fires when a person's new ECR name pulls from the internet after weeks on the office registry as alice",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="alice", client_addr="10.8.0.1"),
                pull("2025-05-10T02:00", actor=ALICE_ARN, registry="ecr-prod", client_addr="203.0.113.50"),
                identity_mapping("alice", "alice@corp.example", "2025-05-01T00:00", registry="default"),
                identity_mapping(ALICE_ARN, "alice@corp.example", "2025-05-01T00:00", registry="ecr-prod"),
            ),
            expect=1,
            about=({"identity": "alice@corp.example", "client_addr": "203.0.113.50"},),
            now=NOW,
            subjects=("alice@corp.example from 203.0.113.0/24",),
        ),
        Case(
            "quiet for a person's name new to a network the person used under another name the week before",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor=ALICE_ARN, registry="ecr-prod", client_addr="10.8.0.1"),
                *(pull(NOW - timedelta(days=d, hours=8), actor="alice", client_addr="203.0.113.7") for d in (2, 5)),
                pull("2025-05-10T02:00", actor=ALICE_ARN, registry="ecr-prod", client_addr="203.0.113.50"),
                identity_mapping("alice", "alice@corp.example", "2025-05-01T00:00"),
                identity_mapping(ALICE_ARN, "alice@corp.example", "2025-05-01T00:00"),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet for a person moving to another private network when no network is configured",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="bob", client_addr="10.8.3.4"),
                pull("2025-05-10T09:00", actor="bob", client_addr="10.10.0.5"),
            ),
            expect=0,
            now=NOW,
        ),
    )
