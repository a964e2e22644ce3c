"""The detection catalogue as markdown, generated from the registry (``docs/detections.md``).

``regaudit detections list --markdown`` prints it and ``--write`` saves it; a test fails when the committed
file differs from what the registry generates, so the catalogue cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable

from regaudit.analytics.detection import Detection, about_columns

HEADER = """# Detections

Generated from the detection registry by `regaudit detections list --markdown --write docs/detections.md`;
do not edit by hand. Each detection is one file under `analytics/detections/<family>/`, with its own firing
and non-firing cases. Thresholds are overridden per detection in `[analytics.thresholds."<id>"]`; the
organisation (CI identities and networks, protected repositories and tags, business hours) in `[org]`.
Besides its subject and summary, each finding says what it is about in columns of its own (registry, repository,
tag, digest, identity, client_addr; NULL where one does not apply): reports, the dashboard and alerts select and
scope findings by those. Each section lists the ones its detection fills.

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
