"""The simulator's front doors: the whole period in memory, streams, and files for benchmarks and the demo.

Files written by ``write_files`` (one directory):

    notifications.jsonl  one POST a line: {"posted_at", "content_type", "body"}; ``body`` is the exact
                         POST body (indented JSON) as a JSON string
    access.log           the nginx access log, one line per request (JSON or ``combined``)
    labels.jsonl         the injected incidents (``Label.to_dict``)
    credentials.csv      the inventory, also as credentials.json
    identities.json      every identity with its role, team, networks and user agent
    org.toml             the ``[org]`` section for the detections; facts.json what else is known
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from regaudit.simulator.engine import DEFAULT_START, AccessFormat, Simulation
from regaudit.simulator.model import CredentialRow, Notification, Traffic
from regaudit.simulator.wire import ENVELOPE_MEDIA_TYPE

CREDENTIAL_COLUMNS = ("name", "kind", "owner", "created_at", "rotated_at", "expires_at")


def simulate(
    seed: int,
    days: int = 30,
    start: datetime = DEFAULT_START,
    scale: float = 1.0,
    incidents: bool = True,
    access_format: AccessFormat = "json",
) -> Traffic:
    """Generate the whole period in memory: notifications, access lines, labels, inventory and
    organisation."""
    simulation = Simulation(seed, days, start, scale, incidents, access_format)
    traffic = Traffic(seed, simulation.start, simulation.end)
    for chunk in simulation.chunks():
        traffic.notifications.extend(chunk.notifications)
        traffic.access_lines.extend(chunk.access_lines)
    traffic.labels = simulation.labels
    traffic.credentials = simulation.credentials
    traffic.identities = simulation.identities
    traffic.org = simulation.org
    traffic.facts = simulation.facts
    return traffic


def iter_notifications(
    seed: int, days: int = 30, start: datetime = DEFAULT_START, scale: float = 1.0, incidents: bool = True
) -> Iterator[Notification]:
    """The notifications alone, streamed hour by hour (the access lines are generated and dropped)."""
    for chunk in Simulation(seed, days, start, scale, incidents).chunks():
        yield from chunk.notifications


def iter_access_lines(
    seed: int,
    days: int = 30,
    start: datetime = DEFAULT_START,
    scale: float = 1.0,
    incidents: bool = True,
    access_format: AccessFormat = "json",
) -> Iterator[bytes]:
    """The access-log lines alone (no trailing newline), streamed hour by hour."""
    for chunk in Simulation(seed, days, start, scale, incidents, access_format).chunks():
        yield from chunk.access_lines


@dataclass(frozen=True, slots=True)
class WriteSummary:
    directory: str
    notifications_count: int
    access_lines_count: int
    labels_count: int


def notification_line(notification: Notification) -> str:
    """One ``notifications.jsonl`` line (without the newline)."""
    body = json.dumps(notification.body.decode())
    posted = notification.posted_at.isoformat()
    return f'{{"posted_at":"{posted}","content_type":"{ENVELOPE_MEDIA_TYPE}","body":{body}}}'


def write_files(
    directory: str | Path,
    seed: int,
    days: int = 30,
    start: datetime = DEFAULT_START,
    scale: float = 1.0,
    incidents: bool = True,
    access_format: AccessFormat = "json",
) -> WriteSummary:
    """Stream a simulation to files (see the module docstring); memory stays at about an hour of traffic."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    simulation = Simulation(seed, days, start, scale, incidents, access_format)
    notifications = lines = 0
    with (
        (folder / "notifications.jsonl").open("w", encoding="utf-8") as posts,
        (folder / "access.log").open("wb") as log,
    ):
        for chunk in simulation.chunks():
            posts.writelines(notification_line(item) + "\n" for item in chunk.notifications)
            log.writelines(line + b"\n" for line in chunk.access_lines)
            notifications += len(chunk.notifications)
            lines += len(chunk.access_lines)
    labels = simulation.labels
    with (folder / "labels.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(label.to_dict()) + "\n" for label in labels)
    write_credentials_csv(simulation.credentials, folder / "credentials.csv")
    write_credentials_json(simulation.credentials, folder / "credentials.json")
    identities = [asdict(identity) for identity in simulation.identities]
    (folder / "identities.json").write_text(json.dumps(identities, indent=2) + "\n", encoding="utf-8")
    (folder / "org.toml").write_text(org_toml(simulation.org), encoding="utf-8")
    (folder / "facts.json").write_text(json.dumps(simulation.facts, indent=2) + "\n", encoding="utf-8")
    return WriteSummary(str(folder), notifications, lines, len(labels))


def write_credentials_csv(rows: list[CredentialRow], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CREDENTIAL_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: value or "" for key, value in row.to_dict().items()})


def write_credentials_json(rows: list[CredentialRow], path: str | Path) -> None:
    Path(path).write_text(json.dumps([row.to_dict() for row in rows], indent=2) + "\n", encoding="utf-8")


def org_toml(org: dict[str, object]) -> str:
    """The ``[org]`` table as TOML (JSON strings and arrays of strings are valid TOML values)."""
    lines = ["[org]"]
    for key, value in org.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
