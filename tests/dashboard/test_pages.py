"""Every page through Streamlit's AppTest on the seeded store (tests/dashboard/seed.py), asserting what it shows."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from regaudit.analytics.reports import Period, Scope, verify_report
from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.dashboard.links import url
from regaudit.dashboard.runtime import Runtime
from regaudit.dashboard.screens import reports
from regaudit.evidence import signing
from tests.dashboard.conftest import AppFactory, no_errors, shown

INJECTIONS = ("' OR 1=1 --", "%", "*", '"', "'", "alice' --", "x\\' OR '1'='1", "%' OR '%'='")


def test_overview_shows_the_seeded_activity_findings_and_ingest_health(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded)
    no_errors(app)
    assert app.title[0].value == "Overview"
    metrics = shown(app)
    assert {k: metrics[k] for k in ("Pulls", "Pushes", "Deletes", "Refused", "Identities", "Repositories")} == {
        "Pulls": "2",
        "Pushes": "5",
        "Deletes": "2",
        "Refused": "2",
        "Identities": "2",
        "Repositories": "2",
    }
    assert metrics["Bytes pulled"] == "731 B"  # 558 + 173: the blobs folded into the two counted pulls
    # the off-hours pushes to team/app (protected) are high; ci-bot's to other/app (shared) is quiet while it is
    # learnt, and old-bot is not called never used by a store that has watched for one day
    assert (metrics["Open high"], metrics["Open medium"], metrics["Open low"]) == ("6", "2", "0")
    assert metrics["Dead letters"] == "1"
    assert metrics["Isolated by the store"] == "0"  # the seed's one dead letter is a line no parser takes
    assert len(app.get("vega_lite_chart")) == 5  # pulls, pushes/deletes/refused, identities, bytes, severities
    top_repositories = app.dataframe[0].value
    assert top_repositories["pulls_count"].tolist()[0] == 2
    assert top_repositories["repository"].tolist()[0] == url("repository", "team/app")
    sources = app.dataframe[2].value
    assert sources[["source", "events_count", "access_count", "dead_letters_count"]].values.tolist() == [
        ["test", 27, 30, 1]
    ]


def test_activity_explorer_lists_and_counts_what_the_filters_match(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="activity")
    no_errors(app)
    assert shown(app)["Matching actions"] == "14"  # every image-level action; no HEAD checks in the captures
    rows = app.dataframe[0].value
    assert len(rows) == 14
    filtered = make_app(seeded, page="activity", identity="alice", action="pull")
    no_errors(filtered)
    assert shown(filtered)["Matching actions"] == "5"  # 3 registry pulls + the 401 and the 404
    assert set(filtered.dataframe[0].value["identity"]) == {url("identity", "alice")}
    by_digest = make_app(seeded, page="activity", reference="sha256:a2b1")
    assert shown(by_digest)["Matching actions"] == "2"  # ci-bot's two pushes of the first v1.0.0
    assert shown(make_app(seeded, page="activity", repository="other/*"))["Matching actions"] == "2"


def test_activity_explorer_opens_on_the_last_day_and_says_so(make_app: AppFactory, seeded: Path) -> None:
    """Reached without a range in its URL (a browser clears the overview's when it follows the navigation)."""
    app = make_app(seeded)
    app.query_params.pop("range", None)
    app.switch_page("screens/activity.py").run()
    no_errors(app)
    assert app.selectbox(key="activity_preset").value == "24h"
    assert any("last 24 hours" in caption.value for caption in app.caption)
    widened = make_app(seeded, page="activity", range="all")
    assert widened.selectbox(key="activity_preset").value == "all"
    assert shown(widened)["Matching actions"] == "14"


def test_activity_download_holds_exactly_the_rows_shown(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="activity", repository="team/app")
    app.selectbox(key="activity_page_size").set_value(50).run()
    no_errors(app)
    assert shown(app)["Matching actions"] == "12"
    assert len(app.dataframe[0].value) == 12


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("field", ["activity_identity", "activity_address", "activity_reference"])
def test_filters_that_try_sql_injection_match_nothing(
    make_app: AppFactory, seeded: Path, field: str, value: str
) -> None:
    app = make_app(seeded, page="activity")
    app.text_input(key=field).input(value).run()
    no_errors(app)
    assert shown(app)["Matching actions"] == "0"
    assert app.dataframe[0].value.empty


@pytest.mark.parametrize("value", [v for v in INJECTIONS if v != "*"])
def test_repository_glob_treats_quotes_and_percent_as_plain_characters(
    make_app: AppFactory, seeded: Path, value: str
) -> None:
    app = make_app(seeded, page="activity")
    app.text_input(key="activity_repository").input(value).run()
    no_errors(app)
    assert shown(app)["Matching actions"] == "0"


def test_a_star_glob_is_every_repository_as_without_a_filter(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="activity", repository="*")
    assert shown(app)["Matching actions"] == "14"


def test_repository_view_shows_tag_history_with_overwrites_and_who_pulled(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="repository", repository="team/app")
    no_errors(app)
    metrics = shown(app)
    assert (metrics["Pulls"], metrics["Pushes"], metrics["Deletes"], metrics["Tags"]) == ("2", "4", "2", "1")
    assert metrics["Tag overwrites"] == "2"
    assert len(app.dataframe) == 1  # only the open tab ran its query
    tags = app.dataframe[0].value
    assert tags[["tag", "moves_count", "overwrites_count"]].values.tolist() == [["v1.0.0", 4, 2]]
    history = make_app(seeded, page="repository", repository="team/app", repository_tab="Tag history")
    intervals = history.dataframe[0].value
    assert intervals["is_overwrite"].tolist() == [True, False, True, False]  # newest first
    assert intervals["moved_by"].tolist()[1] == url("identity", "ci-bot")
    pulled = make_app(seeded, page="repository", repository="team/app", repository_tab="Who pulled each digest")
    pullers = pulled.dataframe[0].value
    assert sorted(pullers["pulls_count"]) == [1, 1]
    assert {u.split("=")[1] for u in pullers["identity"]} == {"alice", "ci-bot"}
    about = make_app(seeded, page="repository", repository="team/app", repository_tab="Findings")
    assert len(about.dataframe[0].value) == 6
    over_time = make_app(
        seeded, page="repository", repository="team/app", repository_tab="Pushes and deletes over time"
    )
    no_errors(over_time)
    charts = [c for c in over_time.tabs[3].children.values() if getattr(c, "type", None) == "vega_lite_chart"]
    assert len(charts) == 2


def test_identity_view_shows_activity_credential_and_findings(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="identity", identity="alice")
    no_errors(app)
    metrics = shown(app)
    assert (metrics["Pulls"], metrics["Pushes"], metrics["Deletes"], metrics["Refused"]) == ("1", "1", "2", "2")
    assert (metrics["Repositories"], metrics["Addresses"]) == ("1", "1")
    assert (metrics["Kind"], metrics["Owner"], metrics["Created"], metrics["Rotated"], metrics["Expires"]) == (
        "user",
        "alice",
        "2025-01-15",
        "2026-06-01",
        "2027-01-01",
    )
    assert app.dataframe[0].value["repository"].tolist() == [url("repository", "team/app")]
    tabs = {"Client addresses": "client_addr", "User agents": "user_agent", "Findings": "detection_id"}
    values = {}
    for tab, column in tabs.items():
        values[tab] = sorted(
            make_app(seeded, page="identity", identity="alice", identity_tab=tab).dataframe[0].value[column]
        )
    assert values == {
        "Client addresses": ["127.0.0.1"],
        "User agents": ["skopeo/1.9.3"],
        # alice's overwrite of release tag v1.0.0 is about her, though its subject names only the tag
        "Findings": ["push.off_hours", "tag.protected_delete", "tag.release_overwrite"],
    }


def test_identity_view_of_an_unused_credential(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="identity", identity="old-bot")
    no_errors(app)
    assert shown(app)["Kind"] == "robot"
    assert any("No activity recorded for old-bot" in info.value for info in app.info)


def test_findings_page_filters_and_shows_evidence(make_app: AppFactory, seeded: Path) -> None:
    app = make_app(seeded, page="findings")
    no_errors(app)
    # ci-bot's off-hours push to other/app (shared) is quiet while ci-bot, first seen that day, is learnt, and
    # old-bot is not called never used by a store that has watched for one day
    assert len(app.dataframe[0].value) == 8
    high = make_app(seeded, page="findings", severity="high", detection="tag.release_overwrite")
    listed = high.dataframe[0].value
    assert len(listed) == 3
    assert set(listed["subject"]) == {"team/app:v1.0.0"}
    evidence = high.dataframe[1].value  # the chosen (first) finding's tag_history interval
    assert evidence["tag"].tolist() == ["v1.0.0"]
    assert high.subheader[0].value.endswith("team/app:v1.0.0")
    delete = make_app(seeded, page="findings", detection="tag.protected_delete")
    named = [link.proto.label for link in delete.get("page_link")]
    assert {"alice", "team/app"} <= set(named)  # the finding's identity and repository link to their pages
    assert {"alice", "team/app"} <= {str(v) for v in delete.dataframe[0].value[["identity", "repository"]].iloc[0]}


def test_reports_page_makes_a_verifiable_report_with_the_engine(
    make_app: AppFactory, seeded: Path, tmp_path: Path
) -> None:
    app = make_app(seeded, page="reports", identities="ci-*", range="all")
    no_errors(app)
    assert shown(app)["Rows in the report"] == "6"  # ci-bot: 4 pushes, 1 pull, 1 mount
    app.checkbox(key="reports_pdf").uncheck()
    app.button(key="reports_generate").click().run()
    no_errors(app)
    report = app.session_state["reports_last"]
    files = dict(zip(report.files["file"], report.files["rows"], strict=True))
    assert files["activity.csv"] == 6
    assert {"SHA256SUMS", "report.html", "activity.parquet", "findings.csv"} <= set(files)
    with zipfile.ZipFile(io.BytesIO(report.archive)) as archive:
        archive.extractall(tmp_path)
    check = verify_report(tmp_path / report.name)
    assert check.files_count >= 5
    assert check.problems == ("manifest.json: not signed",)
    assert any("Unsigned" in m.value for m in app.markdown)


def test_reports_are_signed_with_the_configured_key(seeded: Path, tmp_path: Path) -> None:
    key = tmp_path / "signing.pem"
    signing.generate_key(key)
    runtime = Runtime(db=seeded, reports=ReportsSettings(signing_key_path=key, pdf=False))
    period = Period(datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
    report = reports.generate(runtime, period, Scope(repositories=("team/*",)), pdf=False)
    assert report.signed
    assert report.totals
    with zipfile.ZipFile(io.BytesIO(report.archive)) as archive:
        archive.extractall(tmp_path)
    check = verify_report(tmp_path / report.name, signing.load_public_key(signing.public_path(key)))
    assert check.ok, check.problems
