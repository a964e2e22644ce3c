"""The activity explorer's CSV download: the rows shown, with client-sent text a spreadsheet shows, never runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import app_test

from tests.analytics.reports.hostile import HOSTILE, hostile_store
from tests.dashboard.conftest import AppFactory, no_errors


class KeptMediaStorage(MemoryMediaFileStorage):
    """AppTest's media storage, kept after the run so the test can read what a download button serves."""

    kept: list[MemoryMediaFileStorage] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        self.kept.append(self)


def downloaded(url: str) -> bytes:
    name = url.rsplit("/", 1)[-1]
    return KeptMediaStorage.kept[-1].get_file(name).content


def test_activity_csv_download_shows_hostile_user_agents_as_text(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", KeptMediaStorage)
    app = make_app(hostile_store(tmp_path), page="activity", range="all")
    no_errors(app)
    shown = list(app.dataframe[0].value["user_agent"])
    assert set(shown) == set(HOSTILE)  # the page shows the text as it came
    rows = list(csv.DictReader(io.StringIO(downloaded(app.download_button(key="activity_csv").proto.url).decode())))
    assert [row["user_agent"] for row in rows] == ["'" + value for value in shown]
    assert [row["activity_id"] for row in rows] == list(app.dataframe[0].value["activity_id"])
