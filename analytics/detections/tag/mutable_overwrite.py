"""A mutable tag (latest, a branch name) moved to a different digest: expected, but on record."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, DIGEST_C, at, tag_move
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")


class MutableTagOverwrite(Detection):
    id = "tag.mutable_overwrite"
    title = "Mutable tag taken over by another identity"
    severity = Severity.LOW
    family = "tag"
    needs = frozenset({Data.PUSHES, Data.DIGESTS, Data.IDENTITY})
    description = (
        "A tag that is not a release (latest, main, a branch or build name) was moved to a different digest "
        "by an identity outside org.ci_identities that is not the one who moved it last, when the tag is "
        "latest or a CI identity moved it last, grouped per tag and UTC day. Pipelines move such tags all the "
        "time, people re-push their own scratch tags, and colleagues overwrite each other's scratch tags in a "
        "shared sandbox (tag_history keeps every record); a person taking over latest, or a tag the pipeline "
        "maintains, is worth a look (an implanted image, T1525). Cosign signature and referrer-fallback tags "
        "are excluded."
    )
    false_positives = (
        "A developer pushing to a branch tag CI also builds.",
        "CI identities missing from org.ci_identities.",
    )
    attack = ("T1525",)
    references = ("https://github.com/goharbor/harbor/issues/890",)
    sql = """
        WITH history AS (
            SELECT *, lag(moved_by) OVER (PARTITION BY registry, repository, tag ORDER BY valid_from_at)
                AS previous_mover
            FROM tag_history
            WHERE valid_from_at < $now
        )
        SELECT
            repository || ':' || tag AS subject,
            registry,
            repository,
            tag,
            CAST(NULL AS VARCHAR) AS digest,
            CASE WHEN count(DISTINCT moved_by) = 1 THEN min(moved_by) END AS identity,
            CAST(NULL AS VARCHAR) AS client_addr,
            date_trunc('day', valid_from_at) AS window_start_at,
            date_trunc('day', valid_from_at) + INTERVAL 1 DAY AS window_end_at,
            repository || ':' || tag || ' moved ' || count(*) || ' time(s) by '
                || string_agg(DISTINCT moved_by, ', ' ORDER BY moved_by) || ' after '
                || string_agg(DISTINCT previous_mover, ', ' ORDER BY previous_mover) || ', now '
                || left(arg_max(digest, (valid_from_at, event_id)), 19) AS summary,
            list('tag_history:' || event_id ORDER BY valid_from_at, event_id) AS evidence_ids,
            count(*) AS moves_count
        FROM history
        WHERE is_overwrite
          AND moved_by IS DISTINCT FROM previous_mover AND previous_mover IS NOT NULL
          AND NOT list_contains($ci_identities, coalesce(moved_by, ''))
          AND (tag_class(tag, $protected_tag_patterns) = 'latest'
               OR tag_class(tag, $protected_tag_patterns) = 'mutable' AND list_contains($ci_identities, previous_mover))
          AND valid_from_at >= date_trunc('day', $since)
        GROUP BY registry, repository, tag, date_trunc('day', valid_from_at)
    """
    cases = (
        Case(
            "fires once a day when people take latest over from CI",
            rows=(
                tag_move("2025-05-09T09:00", tag="latest", digest=DIGEST_A, valid_to_at="2025-05-10T09:00"),
                tag_move(
                    "2025-05-10T09:00",
                    tag="latest",
                    moved_by="alice",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                    valid_to_at="2025-05-10T10:00",
                ),
                tag_move(
                    "2025-05-10T10:00",
                    tag="latest",
                    moved_by="bob",
                    digest=DIGEST_C,
                    previous_digest=DIGEST_B,
                ),
            ),
            expect=1,
            about=({"registry": "default", "repository": "team/app", "tag": "latest"},),
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
            subjects=("team/app:latest",),
        ),
        Case(
            "fires when a person takes over main from CI",
            rows=(
                tag_move("2025-05-09T09:00", tag="main", digest=DIGEST_A, valid_to_at="2025-05-10T09:00"),
                tag_move("2025-05-10T09:00", tag="main", moved_by="alice", digest=DIGEST_B, previous_digest=DIGEST_A),
            ),
            expect=1,
            about=({"repository": "team/app", "tag": "main", "identity": "alice"},),
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "quiet when a colleague overwrites a person's scratch tag in a shared sandbox",
            rows=(
                tag_move(
                    "2025-05-09T20:00",
                    repository="team/sandbox",
                    tag="lukas-try",
                    moved_by="lukas.costa",
                    valid_to_at="2025-05-10T09:00",
                ),
                tag_move(
                    "2025-05-10T09:00",
                    repository="team/sandbox",
                    tag="lukas-try",
                    moved_by="lukas.keller",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                ),
            ),
            expect=0,
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
        Case(
            "quiet for release tags, referrer-fallback tags, CI moving latest and a person re-pushing a scratch tag",
            rows=(
                tag_move("2025-05-09T09:00", tag="v1.2.3", moved_by="alice", valid_to_at="2025-05-10T09:00"),
                tag_move("2025-05-10T09:00", tag="v1.2.3", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-09T09:00", tag="latest", valid_to_at="2025-05-10T09:00"),
                tag_move("2025-05-10T09:00", tag="latest", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-09T09:00", tag="alice-wip", moved_by="alice", valid_to_at="2025-05-10T09:00"),
                tag_move(
                    "2025-05-10T09:00",
                    tag="alice-wip",
                    moved_by="alice",
                    digest=DIGEST_B,
                    previous_digest=DIGEST_A,
                ),
            ),
            expect=0,
            now=NOW,
            org={"ci_identities": ["ci-bot"]},
        ),
    )
