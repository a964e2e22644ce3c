"""A production identity pulling a digest that no cosign signature was pushed for."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, DIGEST_C, INDEX_MEDIA_TYPE, at, event, pull, tag_move
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
ORG = {"production_identities": ["kube-prod"]}
DIGEST_D = "sha256:" + "d" * 64
DIGEST_E = "sha256:" + "e" * 64


def signature_of(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


class Params(Parameters):
    grace_minutes: int = Field(30, ge=0, description="How long after a pull its signature may still arrive.")
    session_seconds: int = Field(60, ge=1, description="How far back an index pull covers a platform pull.")


class UnsignedProductionPull(Detection):
    id = "push.unsigned_production_pull"
    title = "Production pull of an unsigned digest"
    severity = Severity.HIGH
    family = "push"
    needs = frozenset({Data.PUSHES, Data.MANIFEST_PULLS, Data.DIGESTS, Data.IDENTITY, Data.CLIENT_ADDRESS})
    description = (
        "An identity in org.production_identities pulled a digest for which no cosign signature tag "
        "(sha256-<hex>.sig, looked up in every repository because of COSIGN_REPOSITORY) existed by the pull "
        "time plus grace_minutes. A platform manifest counts as signed when its index is: the index lists it "
        "in its push event (target.references) or was pulled by the same client just before. Only digests "
        "whose push (or whose index's push) the store holds are judged, since older images may have been "
        "signed before the store began, and only pulls whose client address the source reports: without it a "
        "platform manifest cannot be tied to its index (Harbor reports neither address nor media type, and "
        "each platform manifest of a multi-platform pull as a pull of its own). Event data proves a signature "
        "was pushed, not that it verifies."
    )
    false_positives = (
        "Images signed with OCI 1.1 referrers or notation only, which leave no .sig tag.",
        "Third-party base images that are deliberately deployed unsigned.",
    )
    attack = ("T1525", "T1195.002")
    references = ("https://docs.sigstore.dev/cosign/signing/signing_with_containers/",)
    parameters = Params
    sql = """
        WITH tag_digests AS MATERIALIZED (  -- signed_digest is Python: once per distinct tag
            SELECT tag, signed_digest(tag) AS digest FROM (SELECT DISTINCT tag FROM tag_history)
        ),
        signatures AS (
            SELECT s.digest, min(h.valid_from_at) AS signed_at
            FROM tag_history AS h JOIN tag_digests AS s ON s.tag = h.tag
            WHERE s.digest IS NOT NULL
            GROUP BY s.digest
        ),
        index_children AS (
            SELECT DISTINCT digest AS index_digest,
                   unnest(json_extract_string(raw, '$.target.references[*].digest')) AS child_digest
            FROM registry_events
            WHERE action = 'push' AND target_kind = 'manifest' AND digest IS NOT NULL
        ),
        pulls AS (
            SELECT * FROM image_activity
            WHERE source = 'registry' AND action = 'pull' AND NOT is_check AND digest IS NOT NULL
              AND client_addr IS NOT NULL  -- without it a platform manifest cannot be tied to its index pull
              AND list_contains($production_identities, coalesce(actor, ''))
              AND occurred_at >= date_trunc('day', $since)
              AND occurred_at < $now - INTERVAL 1 MINUTE * $grace_minutes
        ),
        covering AS (
            SELECT activity_id, digest AS covering_digest FROM pulls
            UNION ALL
            SELECT p.activity_id, c.index_digest
            FROM pulls AS p JOIN index_children AS c ON c.child_digest = p.digest
            UNION ALL
            SELECT p.activity_id, q.digest
            FROM pulls AS p
            JOIN image_activity AS q ON q.actor = p.actor AND q.client_addr = p.client_addr
                AND q.repository = p.repository AND q.action = 'pull'
                AND q.media_type IN ('application/vnd.oci.image.index.v1+json',
                                     'application/vnd.docker.distribution.manifest.list.v2+json')
                AND q.occurred_at
                    BETWEEN p.occurred_at - INTERVAL 1 SECOND * $session_seconds AND p.occurred_at
        ),
        pushed AS (
            SELECT DISTINCT digest FROM registry_events
            WHERE action = 'push' AND target_kind = 'manifest' AND digest IS NOT NULL
        ),
        judged AS (
            SELECT DISTINCT c.activity_id FROM covering AS c JOIN pushed AS d ON d.digest = c.covering_digest
        ),
        signed AS (
            SELECT DISTINCT p.activity_id
            FROM pulls AS p
            JOIN covering AS c ON c.activity_id = p.activity_id
            JOIN signatures AS s ON s.digest = c.covering_digest
            WHERE s.signed_at <= p.occurred_at + INTERVAL 1 MINUTE * $grace_minutes
        )
        SELECT
            p.actor || ' pulled ' || p.repository || '@' || p.digest AS subject,
            CASE WHEN count(DISTINCT p.registry) = 1 THEN min(p.registry) END AS registry,
            p.repository AS repository,
            CAST(NULL AS VARCHAR) AS tag,
            p.digest AS digest,
            p.actor AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', p.occurred_at) AS window_start_at,
            date_trunc('day', p.occurred_at) + INTERVAL 1 DAY AS window_end_at,
            p.actor || ' pulled unsigned ' || p.repository || coalesce(':' || any_value(p.tag), '') || '@'
                || left(p.digest, 19) || ' ' || count(*) || ' time(s) from '
                || string_agg(DISTINCT p.client_addr, ', ' ORDER BY p.client_addr) AS summary,
            list('image_activity:' || p.activity_id ORDER BY p.occurred_at, p.activity_id) AS evidence_ids,
            count(*) AS pulls_count
        FROM pulls AS p
        WHERE p.activity_id IN (SELECT activity_id FROM judged)
          AND p.activity_id NOT IN (SELECT activity_id FROM signed)
        GROUP BY p.actor, p.repository, p.digest, date_trunc('day', p.occurred_at)
    """
    cases = (
        Case(
            "fires when production pulls a digest pushed yesterday that nobody signed",
            rows=(
                event("2025-05-09T09:00", digest=DIGEST_B),
                pull("2025-05-10T09:00", actor="kube-prod", digest=DIGEST_B),
            ),
            expect=1,
            about=({"registry": "default", "repository": "team/app", "digest": DIGEST_B, "identity": "kube-prod"},),
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a digest signed in another repository, a child of a signed index, a late but graced "
            "signature, and a pull too recent to judge",
            rows=(
                event("2025-05-09T08:00", digest=DIGEST_A),
                tag_move("2025-05-09T09:00", repository="sigs/all", tag=signature_of(DIGEST_A)),
                pull("2025-05-10T09:00", actor="kube-prod", digest=DIGEST_A),
                event("2025-05-09T08:00", digest=DIGEST_C, media_type=INDEX_MEDIA_TYPE, references=[DIGEST_B]),
                tag_move("2025-05-09T08:01", tag=signature_of(DIGEST_C)),
                pull("2025-05-10T09:00", actor="kube-prod", digest=DIGEST_B),
                event("2025-05-10T09:59", repository="team/late", digest=DIGEST_D),
                pull("2025-05-10T10:00", actor="kube-prod", repository="team/late", digest=DIGEST_D),
                tag_move("2025-05-10T10:10", repository="team/late", tag=signature_of(DIGEST_D)),
                event("2025-05-10T17:49", repository="team/fresh", digest=DIGEST_E),
                pull("2025-05-10T17:50", actor="kube-prod", repository="team/fresh", digest=DIGEST_E),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a platform manifest pulled right after its signed index",
            rows=(
                event("2025-05-09T08:00", digest=DIGEST_C, media_type=INDEX_MEDIA_TYPE),
                tag_move("2025-05-09T09:00", tag=signature_of(DIGEST_C)),
                pull("2025-05-10T09:00:00", actor="kube-prod", digest=DIGEST_C, media_type=INDEX_MEDIA_TYPE),
                pull("2025-05-10T09:00:01", actor="kube-prod", digest=DIGEST_B, tag=None),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a platform manifest after its signed index from a source that reports no address (Harbor)",
            rows=(
                event("2025-05-09T08:00", digest=DIGEST_C),
                event("2025-05-09T08:00", digest=DIGEST_B),
                tag_move("2025-05-09T09:00", tag=signature_of(DIGEST_C)),
                pull("2025-05-10T09:00:00", actor="kube-prod", digest=DIGEST_C, client_addr=None, user_agent=None),
                pull(
                    "2025-05-10T09:00:01",
                    actor="kube-prod",
                    digest=DIGEST_B,
                    tag=None,
                    client_addr=None,
                    user_agent=None,
                ),
            ),
            expect=0,
            now=NOW,
            org=ORG,
        ),
        Case(
            "quiet for a digest pushed before the store began (its signature may be older too)",
            rows=(pull("2025-05-10T09:00", actor="kube-prod", digest=DIGEST_B),),
            expect=0,
            now=NOW,
            org=ORG,
        ),
    )
