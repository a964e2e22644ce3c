"""``[reports]``: compliance reports, and the key that signs them, purge entries and chain checkpoints.

The retention policy, which ``regaudit purge`` enforces and ``regaudit verify`` checks, is ``[retention]``
(``regaudit.evidence.settings``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ReportsSettings(BaseModel):
    """``regaudit report``; its key also signs what ``regaudit purge`` and ``regaudit checkpoint`` write."""

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
