"""Reports: totals equal the store's, the data files are byte-identical for the same inputs, every file is
covered by the signed manifest, and the PDF renders."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import duckdb
import pytest
from PIL import Image

from regaudit.analytics.reports import Period, Scope, build_report, verify_report
from regaudit.cli import main
from regaudit.evidence import signing
from regaudit.ingest import store

PERIOD = Period.parse("2025-03-01..2025-03-05")  # the store holds 2025-03-03 to 2025-03-06
PLATFORM = Scope(repositories=("platform/*",))
DATA_FILES = ("activity.csv", "activity.jsonl", "activity.parquet", "summary_repositories.csv",
              "summary_identities.csv", "findings.csv")  # fmt: skip

STORE_TOTALS = """
SELECT count(*) FILTER (WHERE action = 'push' AND source = 'registry'),
       count(*) FILTER (WHERE action = 'pull' AND counts_as_pull),
       count(*) FILTER (WHERE action = 'delete' AND source = 'registry'),
       count(*) FILTER (WHERE action = 'login')
FROM image_activity
WHERE occurred_at >= $start AND occurred_at < $end AND repository GLOB $glob
"""
STORE_EVENTS = """
SELECT count(*) FILTER (WHERE action = 'push' AND target_kind = 'manifest'),
       count(*) FILTER (WHERE action = 'delete')
FROM registry_events
WHERE event_at >= $start AND event_at < $end AND repository GLOB $glob
"""
STORE_OVERWRITES = """
SELECT count(*) FROM tag_history
WHERE is_overwrite AND valid_from_at >= $start AND valid_from_at < $end AND repository GLOB $glob
"""


@pytest.fixture(scope="module")
def platform_report(report_store, report_settings, tmp_path_factory):
    return build_report(report_store, PERIOD, PLATFORM, tmp_path_factory.mktemp("r") / "platform", report_settings)


def store_counts(db, sql, glob="*"):
    with store.reader(db) as con:
        return con.execute(sql, {"start": PERIOD.start, "end": PERIOD.end, "glob": glob}).fetchall()[0]


def test_report_totals_equal_the_store_for_the_same_scope(report_store, platform_report):
    totals = platform_report.totals
    pushes, pulls, deletes, logins = store_counts(report_store, STORE_TOTALS, "platform/*")
    assert (totals["pushes"], totals["pulls"], totals["deletes"], totals["failed_logins"]) == (
        pushes, pulls, deletes, logins)  # fmt: skip
    assert totals["pushes"] > 0
    assert totals["pulls"] > 0
    event_pushes, _ = store_counts(report_store, STORE_EVENTS, "platform/*")
    assert totals["pushes"] <= event_pushes  # blob-free manifest pushes of an index's children are folded
    assert totals["overwrites"] == store_counts(report_store, STORE_OVERWRITES, "platform/*")[0]


def test_the_summary_tables_add_up_to_the_totals(platform_report):
    import pyarrow.csv as pacsv

    repositories = pacsv.read_csv(platform_report.directory / "summary_repositories.csv").to_pylist()
    identities = pacsv.read_csv(platform_report.directory / "summary_identities.csv").to_pylist()
    for column in ("pushes", "pulls", "deletes", "overwrites", "failed_logins"):
        assert sum(r[column] for r in repositories) == platform_report.totals[column]
        assert sum(r[column] for r in identities) == platform_report.totals[column]
    assert {r["repository"] for r in repositories} <= {"platform/billing", "platform/frontend", "platform/scheduler",
                                                       "platform/sandbox"}  # fmt: skip


def test_unscoped_totals_cover_logins_and_every_finding_status(report_store, report_settings, tmp_path):
    everything = Period.parse("2025-03")
    result = build_report(report_store, everything, Scope(), tmp_path / "all", report_settings)
    with store.reader(report_store) as con:
        statuses = dict(con.execute("SELECT status, count(*) FROM findings GROUP BY status").fetchall())
        logins = con.execute("SELECT count(*) FROM image_activity WHERE action = 'login'").fetchall()[0][0]
    assert {s: result.totals[f"findings_{s}"] for s in statuses} == statuses
    assert result.totals["failed_logins"] == logins > 0
    assert result.manifest["rows"]["activity"] == result.totals["activity_rows"]


def test_the_same_inputs_give_byte_identical_data_files(report_store, report_settings, tmp_path):
    first = build_report(report_store, PERIOD, PLATFORM, tmp_path / "a", report_settings,
                         now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    second = build_report(report_store, PERIOD, PLATFORM, tmp_path / "b", report_settings,
                          now=datetime(2026, 2, 2, tzinfo=UTC))  # fmt: skip
    for name in DATA_FILES:
        assert (first.directory / name).read_bytes() == (second.directory / name).read_bytes(), name
    assert (first.directory / "activity.csv").read_text().count("\n") == first.totals["activity_rows"] + 1


def test_the_manifest_covers_period_scope_query_versions_and_chain_head(platform_report):
    manifest = platform_report.manifest
    assert manifest["period"]["start"] == "2025-03-01T00:00:00Z"
    assert manifest["scope"]["repositories"] == ["platform/*"]
    assert "FROM counted_activity" in manifest["queries"]["activity"]["sql"]  # image_activity with its counting
    assert manifest["queries"]["activity"]["parameters"]["repositories"] == ["platform/*"]
    assert manifest["software"]["regaudit"]
    assert manifest["store"]["chain"]["head"]["hash"] == platform_report.chain_head
    assert manifest["store"]["chain"]["verification"]["ok"] is True
    listed = {f["name"] for f in manifest["files"]}
    assert listed == {*DATA_FILES, "report.html", "signer.pub.pem", "SHA256SUMS"}


def test_the_manifests_activity_query_reruns_on_the_store_with_plain_duckdb(report_store, platform_report):
    activity = platform_report.manifest["queries"]["activity"]
    with duckdb.connect(str(report_store), read_only=True) as con:  # the counting view is in the file
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(activity["sql"], activity["parameters"]).fetchall()
    assert len(rows) == platform_report.manifest["rows"]["activity"] > 0


def test_a_report_verifies_with_the_signers_public_key(platform_report, signing_key_path, capsys):
    public = signing.public_path(signing_key_path)
    assert main(["report", "verify", str(platform_report.directory), "--public-key", str(public)]) == 0
    assert "report ok" in capsys.readouterr().out


@pytest.mark.parametrize("name", [*DATA_FILES, "report.html", "signer.pub.pem", "SHA256SUMS", "manifest.json",
                                  "manifest.sig"])  # fmt: skip
def test_changing_any_byte_of_a_report_file_fails_report_verify(
    platform_report, tmp_path, name, capsys, signing_key_path
):
    copy = shutil.copytree(platform_report.directory, tmp_path / "copy")
    data = bytearray((copy / name).read_bytes())
    for offset in (0, len(data) // 2, len(data) - 1):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        (copy / name).write_bytes(bytes(changed))
        check = verify_report(copy)
        assert not check.ok
        assert any(p.startswith(name) or (name == "manifest.json" and p.startswith("manifest.sig"))
                   for p in check.problems), check.problems  # fmt: skip
    (copy / name).write_bytes(bytes(data))
    assert verify_report(copy).ok
    assert main(["report", "verify", str(copy), "--public-key", str(signing.public_path(signing_key_path))]) == 0
    capsys.readouterr()


def test_a_missing_an_added_or_a_resigned_file_fails_report_verify(platform_report, tmp_path, signing_key_path):
    copy = shutil.copytree(platform_report.directory, tmp_path / "copy")
    (copy / "notes.txt").write_text("added later")
    assert verify_report(copy).problems == ("notes.txt: in the directory but not in the manifest",)
    (copy / "notes.txt").unlink()
    (copy / "findings.csv").unlink()
    assert verify_report(copy).problems == ("findings.csv: listed in the manifest but missing",)
    forger = signing.generate_key(tmp_path / "forger.pem")
    shutil.copy(tmp_path / "forger.pub.pem", copy / "signer.pub.pem")
    (copy / "manifest.sig").write_bytes(forger.sign((copy / "manifest.json").read_bytes()))
    genuine = signing.load_public_key(signing_key_path)
    assert any("not a valid signature" in p for p in verify_report(copy, genuine).problems)


@pytest.mark.browser
def test_the_pdf_renders_a_readable_first_page(report_store, report_settings, tmp_path):
    settings = report_settings.model_copy(update={"pdf": True})
    result = build_report(report_store, PERIOD, PLATFORM, tmp_path / "pdf", settings)
    pdf = result.directory / "report.pdf"
    assert "report.pdf" in {f["name"] for f in result.manifest["files"]}
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True)  # fmt: skip
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = sum(page.histogram()[:128])
    assert dark / (page.width * page.height) > 0.01
    assert page.width > page.height  # A4 landscape
    text = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, check=True)
    assert b"Registry activity report" in text.stdout
    assert result.chain_head.encode() in text.stdout
    assert verify_report(result.directory).ok
