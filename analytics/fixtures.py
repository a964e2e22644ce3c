"""Row builders for detection cases: one small call per store row, every NOT NULL column defaulted.

Cases sit beside their detection, so these builders ship with the package. Each builder fills what a real
ingest would (ids, origin, raw) and takes the columns a case cares about as keywords, e.g.::

    pull("2025-05-10T09:00", actor="ci-bot", repository="team/api", client_addr="10.1.2.3")
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from regaudit.analytics.detection import Row

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
_serial = itertools.count(1)


def at(moment: str | datetime) -> datetime:
    """A UTC datetime from ISO text (no zone means UTC)."""
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key(prefix: str) -> str:
    return f"{prefix}-{next(_serial):06d}"


def _times(values: dict[str, object]) -> dict[str, object]:
    """Columns ending in _at given as ISO text become UTC datetimes."""
    return {k: at(v) if k.endswith("_at") and isinstance(v, str) else v for k, v in values.items()}


def activity(moment: str | datetime, **values: object) -> Row:
    """An ``image_activity`` row; defaults: alice pulls team/app:v1 (digest A), containerd, 10.0.0.5."""
    row: dict[str, object] = {
        "activity_id": _key("act"),
        "registry": "default",
        "occurred_at": at(moment),
        "action": "pull",
        "is_check": False,
        "actor": "alice",
        "client_addr": "10.0.0.5",
        "user_agent": "containerd/v1.7.20",
        "repository": "team/app",
        "tag": "v1",
        "digest": DIGEST_A,
        "media_type": MANIFEST_MEDIA_TYPE,
        "blob_bytes": 0,
        "source": "registry",
        "audit_gap": False,
    }
    row.update(_times(values))
    row.setdefault("counts_as_pull", row["action"] == "pull" and not row["is_check"])
    return Row("image_activity", row)


def pull(moment: str | datetime, **values: object) -> Row:
    return activity(moment, **{"action": "pull", **values})


def push(moment: str | datetime, **values: object) -> Row:
    return activity(moment, **{"action": "push", "actor": "ci-bot", "user_agent": "buildkit/v0.16", **values})


def access(moment: str | datetime, **values: object) -> Row:
    """An ``access_log`` row; defaults: a 200 GET on /v2/ from 10.0.0.5 without a claimed user."""
    row: dict[str, object] = {
        "line_key": _key("line"),
        "request_at": at(moment),
        "client_addr": "10.0.0.5",
        "remote_user": None,
        "http_method": "GET",
        "uri": "/v2/",
        "endpoint": "ping",
        "status": 200,
        "body_bytes": 0,
        "user_agent": "docker/27.3.1",
        "log_format": "json",
        "shipper": "file",
        "received_at": at(moment),
        "origin": "fixture",
        "batch_id": 0,
        "raw": "",
    }
    row.update(_times(values))
    return Row("access_log", row)


def tag_move(moment: str | datetime, **values: object) -> Row:
    """A ``tag_history`` row; defaults: ci-bot points team/app:v1 at digest A, the tag's first interval."""
    row: dict[str, object] = {
        "registry": "default",
        "repository": "team/app",
        "tag": "v1",
        "digest": DIGEST_A,
        "valid_from_at": at(moment),
        "valid_to_at": None,
        "previous_digest": None,
        "moved_by": "ci-bot",
        "client_addr": "10.0.0.9",
        "user_agent": "buildkit/v0.16",
        "event_id": _key("evt"),
    }
    row.update(_times(values))
    row.setdefault("is_overwrite", row["previous_digest"] is not None and row["previous_digest"] != row["digest"])
    return Row("tag_history", row)


def event(moment: str | datetime, references: Sequence[str] = (), **values: object) -> Row:
    """A ``registry_events`` row; defaults: a manifest push of team/app digest A by ci-bot.

    ``references`` are child digests listed in the raw event (``target.references``, as v3 sends them for
    an index).
    """
    row: dict[str, object] = {
        "registry": "default",
        "event_id": _key("evt"),
        "event_at": at(moment),
        "action": "push",
        "target_kind": "manifest",
        "repository": "team/app",
        "tag": None,
        "digest": DIGEST_A,
        "media_type": MANIFEST_MEDIA_TYPE,
        "http_method": "PUT",
        "actor": "ci-bot",
        "client_addr": "10.0.0.9",
        "received_at": at(moment),
        "origin": "fixture",
        "batch_id": 0,
    }
    row.update(_times(values))
    row.setdefault("raw", json.dumps({"target": {"references": [{"digest": d} for d in references]}}))
    return Row("registry_events", row)


def credential(name: str, imported: str | datetime, **values: object) -> Row:
    """A ``credentials`` row from the import at ``imported``; kind by the ``robot$`` prefix."""
    row: dict[str, object] = {
        "name": name,
        "kind": "robot" if name.startswith("robot$") else "user",
        "owner": None,
        "created_at": None,
        "rotated_at": None,
        "expires_at": None,
        "imported_at": at(imported),
        "import_source": "inventory.csv",
    }
    row.update(_times(values))
    return Row("credentials", row)


def identity_mapping(raw_identity: str, person_id: str, imported: str | datetime, **values: object) -> Row:
    """An ``identities`` row: ``raw_identity`` belongs to ``person_id`` on every registry (``registry=`` or
    ``registry_kind=`` scopes it), from the import at ``imported``."""
    row: dict[str, object] = {
        "raw_identity": raw_identity,
        "registry": None,
        "registry_kind": None,
        "person_id": person_id,
        "display_name": None,
        "import_source": "identities.csv",
        "imported_at": at(imported),
    }
    row.update(_times(values))
    return Row("identities", row)


def _vary(values: dict[str, object], index: int) -> dict[str, object]:
    return {k: v(index) if callable(v) else v for k, v in values.items()}


def history(
    builder: Callable[..., Row], until: str | datetime, days: int, per_day: int, **values: object
) -> tuple[Row, ...]:
    """``per_day`` rows on each of the ``days`` days before ``until``'s day, from 09:00 a minute apart.

    A callable value is called with the row's index within its day, e.g. ``repository=lambda i: f"r/{i}"``.
    """
    midnight = at(until).replace(hour=0, minute=0, second=0, microsecond=0)
    return tuple(
        builder(midnight - timedelta(days=day) + timedelta(hours=9, minutes=i), **_vary(values, i))
        for day in range(1, days + 1)
        for i in range(per_day)
    )


def burst(builder: Callable[..., Row], start: str | datetime, count: int, **values: object) -> tuple[Row, ...]:
    """``count`` rows from ``start``, ten seconds apart; callables vary by index as in ``history``."""
    return tuple(builder(at(start) + timedelta(seconds=10 * i), **_vary(values, i)) for i in range(count))
