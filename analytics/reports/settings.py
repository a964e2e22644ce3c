"""``[reports]``: compliance reports, the key that signs them and purge checkpoints, and the retention policy.

Retention days are the least each table keeps: ``regaudit purge --older-than 30d`` never cuts a table below its
retention, and 0 keeps a table for ever. ``tag_history`` is always kept.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ReportsSettings(BaseModel):
    """``regaudit report``, ``regaudit verify`` and ``regaudit purge``."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    signing_key_path: Path | None = Field(
        None,
        description="PEM file of the Ed25519 private key that signs report manifests and purge checkpoints"
        " (`regaudit report keygen` writes one, and its public half beside it as `.pub.pem`).",
    )
    output_dir: Path = Field(
        Path("reports"), description="Folder in which `regaudit report` makes each report's directory."
    )
    pdf: bool = Field(True, description="Print `report.pdf` from the HTML report with headless Chromium.")
    chromium_path: str = Field(
        "chromium", description="Chromium or Chrome binary (a name on PATH, or a path) that prints the PDF."
    )
    pdf_timeout_seconds: float = Field(120.0, gt=0, description="Longest wait for Chromium to print the PDF.")
    html_rows_max: int = Field(
        200, gt=0, description="Rows shown per table in the HTML and PDF; the data files always hold every row."
    )
    verify_chain: bool = Field(
        True, description="Verify the whole hash chain before reporting and record the outcome in the manifest."
    )
    retention_registry_events_days: int = Field(
        400, ge=0, description="Days `registry_events` are kept at least (0: for ever)."
    )
    retention_access_log_days: int = Field(
        180, ge=0, description="Days `access_log` lines are kept at least (0: for ever)."
    )
    retention_dead_letters_days: int = Field(
        90, ge=0, description="Days `dead_letters` are kept at least (0: for ever)."
    )
    retention_image_activity_days: int = Field(
        400, ge=0, description="Days `image_activity` rows are kept at least (0: for ever)."
    )

    def retention_days(self) -> dict[str, int]:
        """Retention days by table name."""
        return {
            "registry_events": self.retention_registry_events_days,
            "access_log": self.retention_access_log_days,
            "dead_letters": self.retention_dead_letters_days,
            "image_activity": self.retention_image_activity_days,
        }
