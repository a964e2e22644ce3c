"""One credential used from many networks within minutes: shared or stolen."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import at, burst, pull
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class Params(Parameters):
    window_minutes: int = Field(15, ge=1, description="Length of the windows networks are counted in.")
    min_networks: int = Field(4, ge=2, description="Distinct networks in one window that fire.")
    private_networks: list[str] = Field(
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"],
        description="Private IPv4 space (RFC 1918, RFC 6598) whose unconfigured /24s count per /16, as one site.",
    )


class CredentialManyAddresses(Detection):
    id = "credential.many_addresses"
    title = "One credential from many networks at once"
    severity = Severity.MEDIUM
    family = "credential"
    needs = frozenset({Data.IDENTITY, Data.CLIENT_ADDRESS})
    description = (
        "Counts, per identity and window, the distinct networks its accepted requests came from (a "
        "configured CIDR counts once, other addresses by /24 or /64). A personal or CI credential used from "
        "several unrelated networks within minutes is shared, or copied by someone else. Unconfigured private "
        "addresses count by /16 (private_networks): runners and nodes spread over the /24s of one site are one "
        "place, so a store without org networks configured does not flood. Windows of "
        "window_minutes start every half window, so a burst across a boundary is still seen; of windows "
        "firing back to back only the first is reported."
    )
    false_positives = (
        "Cluster credentials pulled by nodes spread over many subnets that org.internal_networks does not list.",
        "Users behind rotating carrier-grade NAT or multi-egress proxies.",
    )
    attack = ("T1078",)
    references = ("https://github.com/goharbor/harbor/issues/18675",)
    parameters = Params
    sql = """
        WITH recent AS (
            SELECT raw_identity AS identity, seen_at, client_addr,  -- one credential, not a person
                   time_bucket(to_seconds($window_minutes * 30), seen_at) AS half_at
            FROM identity_activity
            WHERE accepted AND client_addr IS NOT NULL
              AND seen_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 60)
              AND seen_at < $now
        ),
        networks AS (  -- network_of is Python: once per distinct address, not once per row
            SELECT client_addr,  -- an unconfigured private /16 is one site
                   CASE WHEN list_contains($known_networks, network)
                          OR NOT in_networks(client_addr, $private_networks) THEN network
                        ELSE regexp_extract(network, '^([0-9]+\\.[0-9]+)\\.', 1) || '.0.0/16' END AS network
            FROM (
                SELECT client_addr, network_of(client_addr, $known_networks) AS network
                FROM (SELECT DISTINCT client_addr FROM recent)
            )
        ),
        windows AS (
            SELECT r.identity, r.seen_at, n.network,
                   r.half_at - to_seconds($window_minutes * 30) * h.back AS window_at
            FROM recent AS r
            JOIN networks AS n ON n.client_addr = r.client_addr
            CROSS JOIN range(2) AS h(back)
        ),
        fired AS (
            SELECT identity, window_at, count(DISTINCT network) AS networks_count,
                   string_agg(DISTINCT network, ', ' ORDER BY network) AS networks_text
            FROM windows
            GROUP BY identity, window_at
            HAVING count(DISTINCT network) >= $min_networks
        ),
        reported AS (  -- a window whose half-earlier window fired too is the same spell
            SELECT * FROM fired AS f
            WHERE f.window_at
                  >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 30)
              AND NOT EXISTS (
                  SELECT 1 FROM fired AS p
                  WHERE p.identity = f.identity AND p.window_at = f.window_at - to_seconds($window_minutes * 30)
              )
        ),
        evidence AS (  -- the uses of the reported windows only: listing every window's ids cost most of the run
            SELECT f.identity, f.window_at, list(a.evidence_id ORDER BY a.seen_at, a.evidence_id) AS evidence_ids
            FROM reported AS f
            JOIN identity_activity AS a
              ON a.raw_identity = f.identity AND a.seen_at >= f.window_at
             AND a.seen_at < f.window_at + to_seconds($window_minutes * 60)
            WHERE a.accepted AND a.client_addr IS NOT NULL
              AND a.seen_at >= time_bucket(to_seconds($window_minutes * 30), $since) - to_seconds($window_minutes * 60)
              AND a.seen_at < $now
            GROUP BY f.identity, f.window_at
        )
        SELECT
            f.identity AS subject,
            CAST(NULL AS VARCHAR) AS registry,
            CAST(NULL AS VARCHAR) AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            CAST(NULL AS VARCHAR) AS digest,
            f.identity AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            f.window_at AS window_start_at,
            f.window_at + INTERVAL 1 MINUTE * $window_minutes AS window_end_at,
            f.identity || ' used from ' || f.networks_count || ' networks within ' || $window_minutes
                || ' minutes: ' || f.networks_text AS summary,
            e.evidence_ids,
            f.networks_count
        FROM reported AS f
        JOIN evidence AS e ON e.identity = f.identity AND e.window_at = f.window_at
    """
    cases = (
        Case(
            "fires when alice pulls from five unrelated networks within ten minutes",
            rows=burst(pull, "2025-05-10T09:00", 5, actor="alice", client_addr=lambda i: f"198.51.{i}.7"),
            expect=1,
            about=({"identity": "alice"},),
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
        Case(
            "quiet for runners spread over the /24s of one private site when no network is configured",
            rows=burst(pull, "2025-05-10T09:00", 12, actor="ci-runner", client_addr=lambda i: f"10.20.{i * 7}.4"),
            expect=0,
            now=NOW,
        ),
        Case(
            "fires for one credential from four private sites within minutes",
            rows=burst(pull, "2025-05-10T09:00", 4, actor="shared", client_addr=lambda i: f"10.{i + 1}.0.9"),
            expect=1,
            about=({"identity": "shared"},),
            now=NOW,
        ),
    )
