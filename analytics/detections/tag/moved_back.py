"""A tag moved back to a digest it pointed to earlier: a rollback, or a tampered image being covered up."""

from __future__ import annotations

from pydantic import Field

from regaudit.analytics.detection import Case, Detection, Parameters, Row, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, DIGEST_C, at, pull, tag_move
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


def _rollback(moved_back_by: str, released_at: str = "2025-05-10T09:00") -> tuple[Row, ...]:
    """latest at A for a week, a release moves it to B at ``released_at``, and back to A at 12:00."""
    return (
        tag_move("2025-05-01T09:00", tag="latest", digest=DIGEST_A, valid_to_at=released_at),
        tag_move(released_at, tag="latest", digest=DIGEST_B, previous_digest=DIGEST_A, valid_to_at="2025-05-10T12:00"),
        tag_move("2025-05-10T12:00", tag="latest", digest=DIGEST_A, previous_digest=DIGEST_B, moved_by=moved_back_by),
    )


class Params(Parameters):
    min_restored_age_hours: int = Field(
        24, ge=0, description="How long before the move back the restored digest must first have been seen."
    )
    rollback_hours: int = Field(
        8,
        ge=0,
        description="A CI identity restoring the digest a move replaced at most this long after that move is a "
        "routine rollback of a bad release (a working day to notice it).",
    )


class TagMovedBack(Detection):
    id = "tag.moved_back"
    title = "Tag moved back to an earlier digest"
    severity = Severity.MEDIUM
    family = "tag"
    needs = frozenset({Data.PUSHES, Data.DIGESTS})
    description = (
        "A tag is overwritten with a digest it already pointed to before the previous move (A, then B, then "
        "A again), as the tag's history or earlier pulls by tag show, when the restored digest was first "
        "seen at least min_restored_age_hours before (builds flip-flopping within a day are CI noise). "
        "Legitimate rollbacks look like this, and so does an attacker who swaps an image for a while and "
        "then restores it to cover the tracks, or who points latest at an old vulnerable build. A release "
        "process undoing a bad release is routine: a move back by an identity in org.ci_identities to the "
        "very digest the last move replaced, at most rollback_hours after that move, is left out. Moves back "
        "by anyone else, further back than the last move, or long after it still fire. Signature and "
        "referrer-fallback tags are excluded."
    )
    false_positives = (
        "Deliberate rollbacks done by hand, or by a release identity missing from org.ci_identities.",
        "CI jobs that rebuild reproducibly to one digest.",
    )
    attack = ("T1525", "T1070")
    references = ("https://github.com/goharbor/harbor/issues/890",)
    parameters = Params
    sql = """
        WITH moves AS (
            SELECT * FROM tag_moves
            WHERE tag_class(tag, $protected_tag_patterns) NOT IN ('signature', 'referrer')
              AND previous_digest <> digest AND valid_from_at >= $since AND valid_from_at < $now
        ),
        rollbacks AS (  -- a CI identity undoing the last move soon after it: the digest that move replaced
            SELECT m.registry, m.repository, m.tag, m.valid_from_at
            FROM moves AS m
            JOIN tag_moves AS u
              ON u.registry = m.registry AND u.repository = m.repository AND u.tag = m.tag
             AND u.digest = m.previous_digest AND u.valid_from_at < m.valid_from_at
            WHERE list_contains($ci_identities, coalesce(m.moved_by, ''))
            GROUP BY m.registry, m.repository, m.tag, m.valid_from_at, m.digest
            HAVING arg_max(u.previous_digest, (u.valid_from_at, u.event_id)) = m.digest
               AND max(u.valid_from_at) >= m.valid_from_at - INTERVAL 1 HOUR * $rollback_hours
        ),
        moved_to AS (SELECT DISTINCT digest FROM moves),
        observations AS (  -- tag_observations of a moved-to digest only, filtered before each row's evidence id is
                           -- built (filtering the view's rows built it for every pull by tag in the store)
            SELECT registry, repository, tag, digest, valid_from_at AS seen_at,
                   'tag_history:' || event_id AS evidence_id
            FROM tag_history
            WHERE digest IN (SELECT digest FROM moved_to)
            UNION ALL
            SELECT registry, repository, tag, digest, occurred_at, 'image_activity:' || activity_id
            FROM image_activity
            WHERE source = 'registry' AND action = 'pull' AND tag IS NOT NULL AND digest IS NOT NULL
              AND digest IN (SELECT digest FROM moved_to)
        )
        SELECT
            m.repository || ':' || m.tag AS subject,
            m.registry AS registry,
            m.repository AS repository,
            m.tag AS tag,
            m.digest AS digest,
            m.moved_by AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            m.valid_from_at AS window_start_at,
            m.valid_from_at AS window_end_at,
            m.repository || ':' || m.tag || ' moved back to ' || left(m.digest, 19) || ', first seen on '
                || CAST(min(o.seen_at) AS DATE) || ', away from ' || left(m.previous_digest, 19) || ' by '
                || coalesce(m.moved_by, 'anonymous') AS summary,
            ['tag_history:' || m.event_id]
                || list(o.evidence_id ORDER BY o.seen_at, o.evidence_id)[1:5] AS evidence_ids,
            m.inferred
        FROM moves AS m
        JOIN observations AS o
          ON o.registry = m.registry AND o.repository = m.repository AND o.tag = m.tag AND o.digest = m.digest
         AND o.seen_at < m.valid_from_at
        ANTI JOIN rollbacks AS r
          ON r.registry = m.registry AND r.repository = m.repository AND r.tag = m.tag
         AND r.valid_from_at = m.valid_from_at
        GROUP BY m.registry, m.repository, m.tag, m.digest, m.previous_digest, m.valid_from_at, m.moved_by,
                 m.event_id, m.inferred
        HAVING min(o.seen_at) <= m.valid_from_at - INTERVAL 1 HOUR * $min_restored_age_hours
    """
    cases = (
        Case(
            "fires when v1 goes A, B, then back to A",
            rows=(
                tag_move("2025-05-01T09:00", tag="v1", digest=DIGEST_A, valid_to_at="2025-05-09T09:00"),
                tag_move(
                    "2025-05-09T09:00",
                    tag="v1",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                    valid_to_at="2025-05-10T09:00",
                ),
                tag_move("2025-05-10T09:00", tag="v1", digest=DIGEST_A, previous_digest=DIGEST_B),
            ),
            expect=1,
            about=(
                {
                    "registry": "default",
                    "repository": "team/app",
                    "tag": "v1",
                    "digest": DIGEST_A,
                    "identity": "ci-bot",
                },
            ),
            now=NOW,
            subjects=("team/app:v1",),
        ),
        Case(
            "fires when pulls saw latest at A before the store's pushes moved it to B and back to A",
            rows=(
                pull("2025-05-08T09:00", tag="latest", digest=DIGEST_A),
                tag_move("2025-05-09T09:00", tag="latest", digest=DIGEST_B, valid_to_at="2025-05-10T09:00"),
                tag_move("2025-05-10T09:00", tag="latest", digest=DIGEST_A, previous_digest=DIGEST_B),
            ),
            expect=1,
            now=NOW,
        ),
        Case(
            "quiet for a build flip-flopping between two digests within hours",
            rows=(
                tag_move("2025-05-10T09:00", tag="main", digest=DIGEST_A, valid_to_at="2025-05-10T10:00"),
                tag_move(
                    "2025-05-10T10:00",
                    tag="main",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                    valid_to_at="2025-05-10T11:00",
                ),
                tag_move("2025-05-10T11:00", tag="main", digest=DIGEST_A, previous_digest=DIGEST_B),
            ),
            expect=0,
            now=NOW,
        ),
        Case(
            "quiet when the release process rolls latest back to the digest a bad release replaced, hours later",
            rows=_rollback(moved_back_by="ci-bot"),
            expect=0,
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "fires when a person rolls latest back instead of the release process",
            rows=_rollback(moved_back_by="alice"),
            expect=1,
            about=({"repository": "team/app", "tag": "latest", "digest": DIGEST_A, "identity": "alice"},),
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "fires when CI moves latest back long after the move it undoes (B stood for a day)",
            rows=_rollback(moved_back_by="ci-bot", released_at="2025-05-09T12:00"),
            expect=1,
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "fires when CI moves latest further back than the last move (A, B, C, then A)",
            rows=(
                tag_move("2025-05-01T09:00", tag="latest", digest=DIGEST_A, valid_to_at="2025-05-08T09:00"),
                tag_move(
                    "2025-05-08T09:00",
                    tag="latest",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                    valid_to_at="2025-05-10T09:00",
                ),
                tag_move(
                    "2025-05-10T09:00",
                    tag="latest",
                    digest=DIGEST_C,
                    previous_digest=DIGEST_B,
                    valid_to_at="2025-05-10T12:00",
                ),
                tag_move("2025-05-10T12:00", tag="latest", digest=DIGEST_A, previous_digest=DIGEST_C),
            ),
            expect=1,
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "quiet for a tag that only moves forward",
            rows=(
                tag_move("2025-05-01T09:00", tag="v1", digest=DIGEST_A),
                tag_move("2025-05-09T09:00", tag="v1", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-10T09:00", tag="v1", digest=DIGEST_C, previous_digest=DIGEST_B),
            ),
            expect=0,
            now=NOW,
        ),
    )
