"""The counting rules (``ingest/counting.sql``): what each kind of activity row counts as, from the wire facts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from regaudit.analytics.cases import load_rows
from regaudit.analytics.fixtures import activity
from regaudit.ingest import store

T = "2025-05-10T09:00"
GAP = {"source": "proxy", "audit_gap": True, "counts_as_pull": False}
REFUSED = {"source": "proxy", "counts_as_pull": False}

#: name -> (the row's columns, what it counts as)
ROWS: dict[str, tuple[dict[str, object], str]] = {
    "manifest GET, counted once": ({"action": "pull"}, "pull"),
    "platform manifest of the same pull": ({"action": "pull", "counts_as_pull": False}, "none"),
    "HEAD, notified as a pull": ({"action": "pull", "is_check": True}, "check"),
    "blobs fetched by digest, no manifest pull": (
        {"action": "pull", "tag": None, "digest": None, "blob_only": True, "blob_bytes": 1 << 30},
        "pull",
    ),
    "GET served without a notification": ({"action": "pull", "proxy_status": 200, **GAP}, "pull"),
    "HEAD served without a notification": ({"action": "pull", "is_check": True, "proxy_status": 200, **GAP}, "check"),
    "push": ({"action": "push", "proxy_status": 201}, "push"),
    "PUT served without a notification": ({"action": "push", "proxy_status": 201, **GAP}, "push"),
    "PUT the proxy refused": ({"action": "push", "proxy_status": 403, **REFUSED}, "refused"),
    "delete": ({"action": "delete"}, "delete"),
    "DELETE the proxy refused": ({"action": "delete", "proxy_status": 401, **REFUSED}, "refused"),
    "mount": ({"action": "mount"}, "mount"),
    "GET of a missing tag": ({"action": "pull", "proxy_status": 404, **REFUSED}, "refused"),
    "HEAD the proxy refused": ({"action": "pull", "is_check": True, "proxy_status": 401, **REFUSED}, "refused"),
    "failed login": ({"action": "login", "repository": "", "proxy_status": 401, **REFUSED}, "refused"),
}


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path: Path = tmp_path_factory.mktemp("counting") / "store.duckdb"
    with store.writer(path) as con:
        load_rows(con, [activity(T, activity_id=name, **values) for name, (values, _) in ROWS.items()])
    with duckdb.connect(str(path), read_only=True) as con:  # a plain read-only connection sees the view
        return dict(con.execute("SELECT activity_id, counted_as::VARCHAR FROM counted_activity").fetchall())


@pytest.mark.parametrize("name", ROWS)
def test_each_kind_of_activity_row_counts_as_the_wire_says(counted: dict[str, str], name: str) -> None:
    assert counted[name] == ROWS[name][1]
