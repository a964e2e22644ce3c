"""Files for the demo and the benchmarks: streamed, complete, and loadable by the other parts of regaudit."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest

from regaudit.analytics.settings import OrgSettings
from regaudit.simulator import Simulation, iter_access_lines, iter_notifications, simulate, write_files
from regaudit.simulator.output import CREDENTIAL_COLUMNS


def test_write_files_streams_everything_simulate_returns(tmp_path: Path) -> None:
    summary = write_files(tmp_path, seed=4, days=2, scale=0.3)
    traffic = simulate(4, days=2, scale=0.3)
    posts = [json.loads(line) for line in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    assert [post["body"].encode() for post in posts] == [n.body for n in traffic.notifications]
    assert posts[0]["content_type"] == "application/vnd.docker.distribution.events.v1+json"
    assert (tmp_path / "access.log").read_bytes() == b"".join(line + b"\n" for line in traffic.access_lines)
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert labels == [label.to_dict() for label in traffic.labels]
    assert summary.notifications_count == len(traffic.notifications)
    assert summary.labels_count == len(labels)


def test_credentials_csv_and_json_hold_the_inventory(tmp_path: Path) -> None:
    write_files(tmp_path, seed=4, days=1, scale=0.3)
    with (tmp_path / "credentials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CREDENTIAL_COLUMNS
    assert {row["kind"] for row in rows} == {"user", "robot", "token"}
    assert json.loads((tmp_path / "credentials.json").read_text())[0]["name"] == rows[0]["name"]


def test_org_section_loads_as_the_detections_settings(tmp_path: Path) -> None:
    write_files(tmp_path, seed=4, days=1, scale=0.3)
    org = OrgSettings.model_validate(tomllib.loads((tmp_path / "org.toml").read_text())["org"])
    assert org.timezone == "Europe/Berlin"
    assert org.ci_identities
    assert org.production_identities
    assert "base/*" in org.protected_repositories
    assert org.public_repositories == ["public/*"]


def test_streams_yield_the_same_items_as_simulate() -> None:
    traffic = simulate(6, days=2, scale=0.3)
    assert list(iter_notifications(6, days=2, scale=0.3)) == traffic.notifications
    assert list(iter_access_lines(6, days=2, scale=0.3)) == traffic.access_lines


def test_labels_wait_for_the_last_chunk() -> None:
    simulation = Simulation(6, days=1, scale=0.3)
    with pytest.raises(RuntimeError, match="once every chunk"):
        _ = simulation.labels


@pytest.mark.parametrize(("days", "scale", "message"), [(0, 1.0, "days must be"), (1, 0.0, "scale positive")])
def test_simulation_refuses_empty_spans(days: int, scale: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Simulation(1, days=days, scale=scale)
