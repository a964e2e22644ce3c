"""The one backoff (the store's lock retries, ship-logs' sink, alert sinks): doubling up to a ceiling, jitter
within [half, full] of the delay, reset by a success."""

from __future__ import annotations

from regaudit.backoff import Backoff, no_jitter


def test_backoff_doubles_up_to_its_ceiling_and_resets_after_a_success():
    backoff = Backoff(1.0, 8.0, jitter=lambda: 1.0)
    assert [backoff.failed() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.succeeded()
    assert backoff.failed() == 1.0


def test_backoff_jitter_stays_between_half_and_the_full_delay():
    low, high = Backoff(2.0, 60.0, jitter=lambda: 0.0), Backoff(2.0, 60.0, jitter=lambda: 0.999)
    assert low.failed() == 1.0
    assert 1.99 < high.failed() <= 2.0


def test_the_store_lock_retries_rest_at_most_20_ms_and_ship_logs_rests_the_full_delay():
    lock = Backoff(0.005, 0.02)  # ingest/store.py
    assert max(lock.failed() for _ in range(50)) <= 0.02
    shipper = Backoff(0.5, 30.0, jitter=no_jitter)  # ingest/receive/shipper.py with poll_seconds 0.5
    assert [shipper.failed() for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
