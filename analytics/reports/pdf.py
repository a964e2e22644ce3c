"""Print the HTML report to PDF with headless Chromium (Debian's ``chromium``; ``.ci/install-system.sh`` has it).

Chromium lays out the same HTML and SVG a browser shows, honours ``@page`` (A4, margins, page numbers in the
margin boxes) and embeds real fonts, so the PDF reads like the page and its text stays searchable. It runs with a
throw-away profile, no network use beyond the local file, and a timeout.

Errors: ``PdfError`` (terminal) when Chromium is missing, fails or times out; the message names the binary and
the setting that chooses it (``reports.chromium_path``, or ``reports.pdf = false`` to skip the PDF).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from regaudit.errors import TerminalError

_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in containers and CI; the page is our own local file
    "--disable-gpu",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
)


class PdfError(TerminalError):
    """Chromium could not print the report."""


def find_chromium(name: str) -> str:
    """The path of the Chromium binary named by the setting."""
    found = shutil.which(name)
    if found is None:
        raise PdfError(f"{name}: not found; install Chromium or set reports.chromium_path (or reports.pdf = false)")
    return found


def print_pdf(html_path: Path, pdf_path: Path, chromium: str = "chromium", timeout: float = 120.0) -> None:
    """Render html_path into pdf_path."""
    binary = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="regaudit-chromium-") as profile:
        command = [
            binary,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
        except subprocess.TimeoutExpired as error:
            raise PdfError(f"{binary}: no PDF after {timeout:.0f}s (reports.pdf_timeout_seconds)") from error
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise PdfError(f"{binary}: printing failed (exit {done.returncode}): {' | '.join(tail)}")
