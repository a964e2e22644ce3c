"""``regaudit report`` end to end: keygen, a report through the CLI, and report verify."""

from __future__ import annotations

import json

from regaudit.cli import main


def test_keygen_report_and_verify_through_the_cli(report_store, tmp_path, capsys, monkeypatch):
    key = tmp_path / "keys" / "report.pem"
    assert main(["report", "keygen", "--out", str(key)]) == 0
    assert "fingerprint:" in capsys.readouterr().out
    assert key.stat().st_mode & 0o777 == 0o600
    assert main(["report", "keygen", "--out", str(key)]) == 2  # never overwrites silently
    monkeypatch.setenv("REGAUDIT_REPORTS__SIGNING_KEY_PATH", str(key))
    out = tmp_path / "q"
    argv = ["report", "--db", str(report_store), "--period", "2025-03", "--identity", "robot*", "--action", "push",
            "--out", str(out), "--no-pdf"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "chain intact" in printed
    assert "manifest signed" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scope"]["identities"] == ["robot*"]
    assert manifest["totals"]["pulls"] == 0
    assert manifest["totals"]["pushes"] > 0
    assert main(["report", "verify", str(out), "--public-key", str(tmp_path / "keys" / "report.pub.pem")]) == 0
    assert "report ok" in capsys.readouterr().out
    (out / "activity.jsonl").write_text("")
    assert main(["report", "verify", str(out)]) == 1
    assert "activity.jsonl: 0 bytes, the manifest says" in capsys.readouterr().out


def test_a_report_needs_a_signing_key_unless_asked_for_none(report_store, tmp_path, capsys):
    argv = ["report", "--db", str(report_store), "--period", "2025-03", "--out", str(tmp_path / "r"), "--no-pdf"]
    assert main(argv) == 2
    assert not (tmp_path / "r").exists()
    assert main([*argv, "--unsigned"]) == 0
    assert "manifest UNSIGNED" in capsys.readouterr().out
    assert main(["report", "verify", str(tmp_path / "r")]) == 1
    assert "manifest.json: not signed" in capsys.readouterr().out
