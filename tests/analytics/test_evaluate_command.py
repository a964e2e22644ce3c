"""``regaudit detections evaluate``'s benchmark table: its arguments and the table it prints."""

from __future__ import annotations

import argparse

import pytest

from regaudit.analytics.benchmark import Row
from regaudit.analytics.evaluation import Score
from regaudit.commands.detections_evaluate import _modes, _numbers, configure, table_lines


def _row(seed: int, mode: str, alarms: float) -> Row:
    scores = [Score(name, 4, 3, 10, 9) for name in ("a", "b", "c", "d", "e", "total")]
    return Row(seed, mode, scores, Score("total", 4, 2, 5, 5), alarms, 120, 1, 1.0)


def test_seeds_and_modes_parse_and_unknown_modes_are_refused() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["--seeds", "1,2,3", "--modes", "backfill,live", "--cadence-hours", "12"])
    assert (args.seeds, args.modes, args.cadence_hours) == ([1, 2, 3], ["backfill", "live"], 12)
    assert parser.parse_args([]).modes == ["backfill"]
    assert _numbers("4, 5") == [4, 5]
    with pytest.raises(argparse.ArgumentTypeError, match="modes are"):
        _modes("replay")


def test_the_table_has_one_line_per_seed_and_mode_and_names_the_live_cadence() -> None:
    lines = table_lines([_row(1, "backfill", 0.25), _row(1, "live", 1.5)], 6)
    assert lines[0].split()[:2] == ["seed", "mode"]
    assert "0.75/0.90" in lines[2]
    assert "0.50/1.00" in lines[2]
    assert lines[2].rstrip().endswith("0.25")
    assert lines[3].split()[1] == "live"
    assert "every 6 h" in lines[-1]
