"""One credential used from many networks within minutes: shared or stolen."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, pull

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(15, ge=1, description="Length of the fixed windows networks are counted in.")
    min_networks: int = Field(4, ge=2, description="Distinct networks in one window that fire.")


class CredentialManyAddresses(Detection):
    id = "credential.many_addresses"
    title = "One credential from many networks at once"
    severity = Severity.MEDIUM
    family = "credential"
    description = (
        "Counts, per identity and fixed window, the distinct networks its accepted requests came from (a "
        "configured CIDR counts once, other addresses by /24 or /64). A personal or CI credential used from "
        "several unrelated networks within minutes is shared, or copied by someone else."
    )
    false_positives = (
        "Cluster credentials pulled by nodes spread over many subnets that org.internal_networks does not list.",
        "Users behind rotating carrier-grade NAT or multi-egress proxies.",
    )
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/18675",)
    parameters = Params
    sql = """
        WITH seen AS (
            SELECT identity, seen_at, evidence_id, network_of(client_addr, $known_networks) AS network,
                   time_bucket(INTERVAL 1 MINUTE * $window_minutes, seen_at) AS bucket
            FROM identity_activity
            WHERE accepted AND client_addr IS NOT NULL
              AND seen_at >= time_bucket(INTERVAL 1 MINUTE * $window_minutes, $since) AND seen_at < $now
        )
        SELECT
            identity AS subject,
            bucket AS window_start_at,
            bucket + INTERVAL 1 MINUTE * $window_minutes AS window_end_at,
            identity || ' used from ' || count(DISTINCT network) || ' networks within ' || $window_minutes
                || ' minutes: ' || string_agg(DISTINCT network, ', ' ORDER BY network) AS summary,
            list(evidence_id ORDER BY seen_at) AS evidence_ids,
            count(DISTINCT network) AS networks_count
        FROM seen
        GROUP BY identity, bucket
        HAVING count(DISTINCT network) >= $min_networks
    """
    cases = (
        Case(
            "fires when alice pulls from five unrelated networks within ten minutes",
            rows=burst(pull, "2025-05-10T09:00", 5, actor="alice", client_addr=lambda i: f"198.51.{i}.7"),
            expect=1,
            now=NOW,
            subjects=("alice",),
        ),
        Case(
            "quiet for a cluster credential whose nodes sit inside one configured network",
            rows=burst(pull, "2025-05-10T09:00", 8, actor="kube", client_addr=lambda i: f"10.20.{i}.7"),
            expect=0,
            now=NOW,
            org={"internal_networks": ["10.20.0.0/16"]},
        ),
    )
