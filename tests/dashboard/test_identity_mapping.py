"""The identity page of a mapped person (``regaudit identities import``) through Streamlit's AppTest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from regaudit.ingest import store
from regaudit.ingest.sources import identities
from tests.dashboard.conftest import AppFactory, no_errors, shown


def test_a_mapped_person_page_counts_every_name_and_lists_them(make_app: AppFactory, writable: Path) -> None:
    mappings = identities.parse_csv("raw_identity,person_id,display_name\nalice,team,The team\nci-bot,team,\n")
    with store.writer(writable) as con:
        identities.store_import(con, mappings, "test", datetime(2026, 11, 27, tzinfo=UTC))
    app = make_app(writable, page="identity", identity="team")
    no_errors(app)
    # alice's 1 pull, 1 push and 2 deletes with ci-bot's 1 pull and 4 pushes (test_pages: each alone)
    assert (shown(app)["Pulls"], shown(app)["Pushes"], shown(app)["Deletes"]) == ("2", "5", "2")
    names = app.dataframe[-1].value  # "Registries and names", below the tabs
    assert sorted(names["raw_identity"]) == ["alice", "ci-bot"]
    assert set(names["registry_kind"]) == {"distribution"}
    assert set(names["display_name"].dropna()) == {"The team"}
    assert any("team is 2 names on 1 registries" in caption.value for caption in app.caption)
