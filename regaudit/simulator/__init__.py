"""A labeled traffic simulator: a realistic, seeded span of private-registry traffic with injected incidents.

It produces what a CNCF Distribution 2.8 registry behind nginx would hand regaudit: the notification POSTs
(exact bodies, one event each, in POST order) and the matching nginx access log (FORMATS.md section 3.1 JSON,
or ``combined``), plus the credential inventory, the organisation's ``[org]`` settings and the ground-truth
labels of every injected incident (see ``model.KIND_FAMILY``). The same seed always gives the same bytes.

    traffic = simulate(seed=1)                          # 30 days in memory
    for chunk in Simulation(seed=1, scale=50).chunks(): # hour by hour, for benchmarks
        ...
    write_files("out/", seed=1)                         # notifications.jsonl, access.log, labels.jsonl...

Module map: ``organisation``/``catalog``/``identities`` (who and what), ``sessions``/``flows`` (HTTP requests
and the events they cause), ``routines``/``fleet``/``habits`` (normal behaviour, habits included),
``incidents``/``attacks``/``tampering``/``intrusions``/``variants`` (injected incidents), ``engine`` (the day loop),
``wire`` (bytes), ``output`` (front doors), ``harbor`` (a Harbor instance's webhooks beside the registry:
``simulate_harbor``).
"""

from __future__ import annotations

from regaudit.simulator.engine import DEFAULT_START, Chunk, Simulation
from regaudit.simulator.harbor import HarborPost, HarborTraffic, simulate_harbor
from regaudit.simulator.model import (
    KIND_FAMILY,
    CredentialRow,
    Identity,
    Label,
    Notification,
    Traffic,
)
from regaudit.simulator.output import (
    WriteSummary,
    iter_access_lines,
    iter_notifications,
    org_toml,
    simulate,
    write_credentials_csv,
    write_credentials_json,
    write_files,
)

__all__ = [
    "DEFAULT_START",
    "KIND_FAMILY",
    "Chunk",
    "CredentialRow",
    "HarborPost",
    "HarborTraffic",
    "Identity",
    "Label",
    "Notification",
    "Simulation",
    "Traffic",
    "WriteSummary",
    "iter_access_lines",
    "iter_notifications",
    "org_toml",
    "simulate",
    "simulate_harbor",
    "write_credentials_csv",
    "write_credentials_json",
    "write_files",
]
