from __future__ import annotations

import pytest

from regaudit.analytics.reports.settings import ReportsSettings
from regaudit.evidence import signing
from tests.analytics.reports.seed import simulated_store


@pytest.fixture(scope="session")
def report_store(tmp_path_factory):
    """Four simulated days through the real ingest path, with findings in every status (read-only in tests)."""
    return simulated_store(tmp_path_factory.mktemp("reports") / "store.duckdb")


@pytest.fixture(scope="session")
def signing_key_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "signing.pem"
    signing.generate_key(path)
    return path


@pytest.fixture(scope="session")
def report_settings(signing_key_path):
    return ReportsSettings(signing_key_path=signing_key_path, pdf=False)
