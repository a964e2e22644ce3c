"""A release tag (semver or a protected pattern) moved to a different digest."""

from __future__ import annotations

from regaudit.analytics.detection import Case, Detection, Severity
from regaudit.analytics.fixtures import DIGEST_A, DIGEST_B, at, pull, tag_move
from regaudit.schemas.sources import Data

NOW = at("2025-05-10T18:00")
SIG_TAG = "sha256-" + "a" * 64 + ".sig"


class ReleaseTagOverwrite(Detection):
    id = "tag.release_overwrite"
    title = "Release tag overwritten"
    severity = Severity.HIGH
    family = "tag"
    needs = frozenset({Data.PUSHES, Data.DIGESTS})
    description = (
        "A tag that names a release, by semantic version (v1.4.2, 2.0, 1.0.0-rc1) or by a pattern in "
        "org.protected_tag_patterns (prod-*, release-*, stable), now points to a different digest than "
        "before. Consumers pinning a release by tag silently get other content: a poisoned release looks "
        "exactly like this. When the tag's earlier push predates the store, pulls that resolved the tag to "
        "another digest stand in for it (view tag_moves). Cosign signature tags "
        "(sha256-<hex>.sig/.att/.sbom) and referrer-fallback tags are excluded."
    )
    false_positives = (
        "Rebuilding a release to pick up base-image fixes while keeping its tag (a practice worth ending).",
        "Re-pushing the same release after a failed, partial push.",
    )
    attack = ("T1525", "T1195.002")
    references = ("https://github.com/goharbor/harbor/issues/890",)
    sql = """
        SELECT
            repository || ':' || tag AS subject,
            registry,
            repository,
            tag,
            digest,
            moved_by AS identity,
            client_addr,
            valid_from_at AS window_start_at,
            valid_from_at AS window_end_at,
            repository || ':' || tag || ' (' || tag_class(tag, $protected_tag_patterns) || ') moved from '
                || left(previous_digest, 19) || ' to ' || left(digest, 19) || ' by '
                || coalesce(moved_by, 'anonymous') || coalesce(' from ' || client_addr, '')
                || coalesce(' (' || user_agent || ')', '') AS summary,
            ['tag_history:' || event_id] AS evidence_ids,
            previous_digest,
            moved_by,
            inferred
        FROM tag_moves
        WHERE tag_class(tag, $protected_tag_patterns) IN ('release', 'protected')
          AND valid_from_at >= $since AND valid_from_at < $now
    """
    cases = (
        Case(
            "fires when v1.4.2 and prod-eu move to another digest",
            rows=(
                tag_move("2025-05-10T09:00", tag="v1.4.2", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-10T09:00", tag="prod-eu", digest=DIGEST_B, previous_digest=DIGEST_A),
            ),
            expect=2,
            about=(
                {
                    "registry": "default",
                    "repository": "team/app",
                    "tag": "v1.4.2",
                    "digest": DIGEST_B,
                    "identity": "ci-bot",
                    "client_addr": "10.0.0.9",
                },
                {
                    "registry": "default",
                    "repository": "team/app",
                    "tag": "prod-eu",
                    "digest": DIGEST_B,
                    "identity": "ci-bot",
                    "client_addr": "10.0.0.9",
                },
            ),
            now=NOW,
            subjects=("team/app:v1.4.2", "team/app:prod-eu"),
        ),
        Case(
            "fires when pulls saw v3.0.1 as one digest before the store's first push of it moved it",
            rows=(
                pull("2025-05-09T09:00", tag="v3.0.1", digest=DIGEST_A),
                tag_move("2025-05-10T09:00", tag="v3.0.1", digest=DIGEST_B),
            ),
            expect=1,
            now=NOW,
            subjects=("team/app:v3.0.1",),
        ),
        Case(
            "quiet for latest, for a first push and for a cosign signature tag",
            rows=(
                tag_move("2025-05-10T09:00", tag="latest", digest=DIGEST_B, previous_digest=DIGEST_A),
                tag_move("2025-05-10T09:00", tag="v2.0.0", digest=DIGEST_B),
                pull("2025-05-09T09:00", tag="v2.0.1", digest=DIGEST_B),
                tag_move("2025-05-10T09:00", tag="v2.0.1", digest=DIGEST_B),
                tag_move("2025-05-10T09:00", tag=SIG_TAG, digest=DIGEST_B, previous_digest=DIGEST_A),
            ),
            expect=0,
            now=NOW,
        ),
    )
