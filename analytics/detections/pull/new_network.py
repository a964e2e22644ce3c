"""A credential used from a network it was never seen on: a configured CIDR, else the address's /24 or /64."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, history, pull

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    baseline_days: int = Field(30, ge=1, description="Prior days whose networks count as known.")
    min_history_days: int = Field(7, ge=1, description="Days since first activity before the identity is judged.")


class CredentialNewNetwork(Detection):
    id = "pull.new_network"
    title = "Credential used from a new network"
    severity = Severity.MEDIUM
    family = "pull"
    description = (
        "Maps every accepted use of an identity to a network: the narrowest of org.ci_networks and "
        "org.internal_networks that holds the client address, otherwise its /24 (IPv4) or /64 (IPv6). It "
        "fires the day an identity with at least min_history_days of history shows up from a network it did "
        "not use in the prior baseline_days, when that network is outside every configured network, or is "
        "outside org.ci_networks for an identity in org.ci_identities: a CI token used off the runners, a "
        "credential used from the internet. People moving between offices and VPNs stay quiet."
    )
    false_positives = (
        "Runner pools or clusters that moved to new addresses not listed in org.ci_networks.",
        "People travelling or working from home without a VPN listed in org.internal_networks.",
    )
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/18675",)
    parameters = Params
    sql = """
        WITH recent AS (
            SELECT identity, client_addr, seen_at, evidence_id
            FROM identity_activity
            WHERE accepted AND client_addr IS NOT NULL
              AND seen_at >= date_trunc('day', $since) - INTERVAL 1 DAY * $baseline_days AND seen_at < $now
        ),
        networks AS (  -- network_of is Python: once per distinct address, not once per row
            SELECT client_addr, network_of(client_addr, $known_networks) AS network
            FROM (SELECT DISTINCT client_addr FROM recent)
        ),
        seen AS MATERIALIZED (
            SELECT r.identity, n.network, r.client_addr, r.seen_at, r.evidence_id
            FROM recent AS r JOIN networks AS n ON n.client_addr = r.client_addr
        ),
        identity_first AS (SELECT identity, min(seen_at) AS first_at FROM seen GROUP BY identity),
        network_first AS (
            SELECT identity, network, min(seen_at) AS first_at FROM seen GROUP BY identity, network
        )
        SELECT
            n.identity || ' from ' || n.network AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            n.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', n.first_at) AS window_start_at,
            date_trunc('day', n.first_at) + INTERVAL 1 DAY AS window_end_at,
            n.identity || ' used from new network ' || n.network || ' (' || count(*) || ' requests, first at '
                || strftime(n.first_at, '%H:%M') || ' UTC); known since ' || CAST(i.first_at AS DATE)
                AS summary,
            list(s.evidence_id ORDER BY s.seen_at) AS evidence_ids,
            n.network,
            list(DISTINCT s.client_addr ORDER BY s.client_addr) AS client_addrs
        FROM network_first AS n
        JOIN identity_first AS i ON i.identity = n.identity
        JOIN seen AS s ON s.identity = n.identity AND s.network = n.network
            AND date_trunc('day', s.seen_at) = date_trunc('day', n.first_at)
        WHERE n.first_at >= date_trunc('day', $since)
          AND n.first_at >= i.first_at + INTERVAL 1 DAY * $min_history_days
          AND (NOT list_contains($known_networks, n.network)
               OR list_contains($ci_identities, n.identity) AND NOT list_contains($ci_networks, n.network))
        GROUP BY n.identity, n.network, n.first_at, i.first_at
    """
    cases = (
        Case(
            "fires when a CI token that always came from the runners pulls from an unknown /24",
            rows=(
                *history(pull, NOW, days=20, per_day=3, actor="ci-bot", client_addr=lambda i: f"10.8.0.{i + 1}"),
                pull("2025-05-10T02:00", actor="ci-bot", client_addr="203.0.113.50"),
            ),
            expect=1,
            about=({"identity": "ci-bot"},),
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
    )
