"""Targets of the benchmark suite: met, or the gap as a factor."""

from __future__ import annotations

from bench.targets import Target


def test_at_most_target_met_at_the_limit() -> None:
    target = Target("gateway / PostgreSQL", 1.0, 1.0, at_most=True)
    assert target.met
    assert target.verdict == "met"
    assert target.requirement == "<= 1.00x"


def test_at_most_target_gap_is_measured_over_limit() -> None:
    target = Target("gateway / PostgreSQL", 1.5, 1.0, at_most=True)
    assert not target.met
    assert target.verdict == "not met: 1.50 times off the limit"


def test_at_least_target_gap_is_limit_over_measured() -> None:
    target = Target("buenavista / gateway", 10.0, 20.0, at_most=False)
    assert not target.met
    assert target.verdict == "not met: 2.00 times off the limit"
    assert target.requirement == ">= 20.00x"


def test_memory_target_line_has_unit() -> None:
    target = Target("peak RSS above idle", 250.0, 300.0, at_most=True, unit=" MiB")
    assert target.line() == "peak RSS above idle: 250 MiB (target <= 300 MiB): met"


def test_zero_errors_target() -> None:
    assert Target("errors", 0, 0, at_most=True, unit="").verdict == "met"
    assert Target("errors", 3, 0, at_most=True, unit="").verdict == "not met"
