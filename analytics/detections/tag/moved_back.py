"""A tag moved back to a digest it pointed to earlier: a rollback, or a tampered image being covered up."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, DIGEST_C, at, tag_move

NOW = at("2025-05-10T18:00")


class TagMovedBack(Detection):
    id = "tag.moved_back"
    title = "Tag moved back to an earlier digest"
    severity = Severity.MEDIUM
    family = "tag"
    description = (
        "A tag is overwritten with a digest it already pointed to before the previous move (A, then B, then "
        "A "
        "again). Legitimate rollbacks look like this, and so does an attacker who swaps an image for a while "
        "and then restores it to cover the tracks. Signature and referrer-fallback tags are excluded."
    )
    false_positives = (
        "Deliberate rollbacks of a bad release.",
        "CI jobs that rebuild reproducibly to the same digest.",
    )
    attack = ("T1525", "T1070")
    references = ("https://github.com/goharbor/harbor/issues/890",)
    sql = """
        WITH moves AS (
            SELECT *, tag_class(tag, $protected_tag_patterns) AS class
            FROM tag_history WHERE valid_from_at < $now
        )
        SELECT
            m.repository || ':' || m.tag AS subject,
            m.valid_from_at AS window_start_at,
            m.valid_from_at AS window_end_at,
            m.repository || ':' || m.tag || ' moved back to ' || left(m.digest, 19) || ', first held on '
                || CAST(min(e.valid_from_at) AS DATE) || ', away from ' || left(m.previous_digest, 19)
                || ' by '
                || coalesce(m.moved_by, 'anonymous') AS summary,
            ['tag_history:' || m.event_id] || list('tag_history:' || e.event_id ORDER BY e.valid_from_at)
                AS evidence_ids,
            m.class
        FROM moves AS m
        JOIN moves AS e ON e.registry = m.registry AND e.repository = m.repository AND e.tag = m.tag
            AND e.digest = m.digest AND e.valid_from_at < m.valid_from_at
        WHERE m.is_overwrite
          AND m.class NOT IN ('signature', 'referrer')
          AND m.valid_from_at >= $since
        GROUP BY m.registry, m.repository, m.tag, m.digest, m.previous_digest, m.valid_from_at, m.moved_by,
                 m.event_id, m.class
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
            now=NOW,
            subjects=("team/app:v1",),
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
