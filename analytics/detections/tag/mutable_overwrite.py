"""A mutable tag (latest, a branch name) moved to a different digest: expected, but on record."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, DIGEST_C, at, tag_move

NOW = at("2025-05-10T18:00")


class MutableTagOverwrite(Detection):
    id = "tag.mutable_overwrite"
    title = "Mutable tag overwritten"
    severity = Severity.LOW
    family = "tag"
    description = (
        "A tag that is not a release (latest, main, a branch or build name) moved to a different digest, "
        "grouped per tag and UTC day with who moved it. Moving such tags is normal for CI; the finding keeps "
        "the record that none of the registries keep, and makes an unexpected mover easy to spot. Cosign "
        "signature and referrer-fallback tags are excluded."
    )
    false_positives = ("Every CI build that updates latest or a branch tag.",)
    attack = ("T1525",)
    references = ("https://github.com/goharbor/harbor/issues/890",)
    sql = """
        SELECT
            repository || ':' || tag AS subject,
            date_trunc('day', valid_from_at) AS window_start_at,
            date_trunc('day', valid_from_at) + INTERVAL 1 DAY AS window_end_at,
            repository || ':' || tag || ' moved ' || count(*) || ' time(s) by '
                || coalesce(string_agg(DISTINCT moved_by, ', ' ORDER BY moved_by), 'anonymous')
                || ', now ' || left(arg_max(digest, valid_from_at), 19) AS summary,
            list('tag_history:' || event_id ORDER BY valid_from_at) AS evidence_ids,
            count(*) AS moves_count
        FROM tag_history
        WHERE is_overwrite
          AND tag_class(tag, $protected_tag_patterns) IN ('latest', 'mutable')
          AND valid_from_at >= date_trunc('day', $since) AND valid_from_at < $now
        GROUP BY registry, repository, tag, date_trunc('day', valid_from_at)
    """
    cases = (
        Case(
            "fires once a day for latest moved twice",
            rows=(
                tag_move("2025-05-10T09:00", tag="latest", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-10T10:00", tag="latest", digest=DIGEST_C, previous_digest=DIGEST_B),
            ),
            expect=1,
            now=NOW,
            subjects=("team/app:latest",),
        ),
        Case(
            "quiet for release tags, referrer-fallback tags and first pushes",
            rows=(
                tag_move("2025-05-10T09:00", tag="v1.2.3", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move(
                    "2025-05-10T09:00", tag="sha256-" + "c" * 64, digest=DIGEST_B, previous_digest=DIGEST_A
                ),
                tag_move("2025-05-10T09:00", tag="main", digest=DIGEST_B),
            ),
            expect=0,
            now=NOW,
        ),
    )
