"""The detection catalogue as markdown, generated from the registry (``docs/detections.md``).

``regaudit detections list --markdown`` prints it and ``--write`` saves it; a test fails when the committed
file differs from what the registry generates, so the catalogue cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable

from regaudit.analytics.detection import Detection, about_columns
from regaudit.schemas.sources import CAPABILITIES, SELF_HOSTED, Data, missing

#: the proxy logs (they see every request, record no push of their own), judged beside a registry's own feed
PROXY_KINDS = tuple(kind for kind, data in CAPABILITIES.items() if Data.REQUESTS in data and Data.PUSHES not in data)

HEADER = """# Detections

Generated from the detection registry by `regaudit detections list --markdown --write docs/detections.md`;
do not edit by hand. Each detection is one file under `analytics/detections/<family>/`, with its own firing
and non-firing cases. Thresholds are overridden per detection in `[analytics.thresholds."<id>"]`; the
organisation (CI identities and networks, protected repositories and tags, business hours) in `[org]`.
Besides its subject and summary, each finding says what it is about in columns of its own (registry, repository,
tag, digest, identity, client_addr; NULL where one does not apply): reports, the dashboard and alerts select and
scope findings by those. Each section lists the ones its detection fills, the data it decides on, and the sources
(docs/sources.md) that record that data alone, with nginx's log in front, or not at all
(`regaudit detections list --source KIND` says what a source lacks).

Pushes are judged by the class of their repository: protected (`org.protected_repositories`), CI-only (its pushes
over the prior days all came from CI, as `push.human_to_ci_repository` decides), personal (the pushing identity's
own namespace, `org.personal_repositories`, e.g. `sandbox/{identity}`) and shared (everything else). Protected and
CI-only weigh most and personal least: a finding's severity can follow the class, so the severity below is the
detection's usual one.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(detections: Iterable[type[Detection]]) -> list[str]:
    lines = ["| id | severity | family | title | ATT&CK |", "|---|---|---|---|---|"]
    for d in detections:
        lines.append(f"| [`{d.id}`](#{d.id.replace('.', '')}) | {d.severity.value} | {d.family} | "
                     f"{_cell(d.title)} | {', '.join(d.attack)} |")  # fmt: skip
    return lines


def section(detection: type[Detection]) -> list[str]:
    d = detection
    lines = [
        f"### {d.id}",
        "",
        f"**{d.title}**. Severity {d.severity.value}; ATT&CK {', '.join(d.attack)}.",
        "",
        f"Findings are about: {', '.join(f'`{name}`' for name in about_columns(d.sql)) or 'nothing but the subject'}.",
        "",
        *applicability(d),
    ]
    lines += [d.description, "", "False positives:", ""]
    lines += [f"- {text}" for text in d.false_positives]
    fields = d.parameters.model_fields
    if fields:
        lines += ["", "| parameter | default | description |", "|---|---|---|"]
        lines += [
            f"| `{name}` | `{field.default}` | {_cell(field.description or '')} |" for name, field in fields.items()
        ]
    if d.references:
        lines += ["", "References: " + ", ".join(f"<{url}>" for url in d.references)]
    return [*lines, ""]


def applicability(detection: type[Detection]) -> list[str]:
    """The data the detection decides on and the registry sources that record it: alone, with nginx's log in front
    (a self-hosted registry only), or not (``schemas/sources.py``)."""
    wanted = detection.needs or frozenset()  # None is undeclared: a test holds every shipped detection to declaring
    needs = [data.value for data in Data if data in wanted]
    alone, proxied, never = [], [], []
    for kind in (kind for kind in CAPABILITIES if kind not in PROXY_KINDS):
        if not missing(wanted, [kind]):
            alone.append(kind)
        elif kind in SELF_HOSTED and not missing(wanted, [kind, "nginx"]):
            proxied.append(kind)
        else:
            never.append(kind)
    decides = f"Decides on: {', '.join(needs)}." if needs else "Reads nothing a registry's feed records."
    parts = [decides, f"Applies to: {_kinds(alone) or 'no registry feed alone'}."]
    if proxied:
        parts.append(f"With nginx's log in front: {_kinds(proxied)}.")
    if never:
        parts.append(f"Not to: {_kinds(never)}.")
    return [" ".join(parts), ""]


def _kinds(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def markdown(detections: Iterable[type[Detection]]) -> str:
    """The whole catalogue: a summary table, then one section per family and detection."""
    ordered = sorted(detections, key=lambda d: d.id)
    lines = [HEADER, *table(ordered), ""]
    family = None
    for detection in ordered:
        if detection.family != family:
            family = detection.family
            lines += [f"## {family}", ""]
        lines += section(detection)
    return "\n".join(lines).rstrip("\n") + "\n"
