"""Distribution 3.x for the end-to-end scenario: Debian ships only 2.8, so ``.ci/install-registry-v3.sh`` builds
``github.com/distribution/distribution/v3/cmd/registry`` with Go from the module proxy (``make setup`` runs it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "install-registry-v3.sh"


def registry_v3_binary() -> str:
    """The path of the 3.x registry binary; built on first use (minutes) when ``make setup`` has not run."""
    built = subprocess.run([str(INSTALL_SCRIPT)], check=True, capture_output=True, text=True, timeout=1800)
    return built.stdout.strip().splitlines()[-1]
