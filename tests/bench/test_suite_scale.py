"""Sizes of the benchmark run and the streaming queries built from them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.streaming import memory_query, stream_query
from bench.suite_scale import FULL, QUICK


def test_full_and_quick_scales_are_consistent() -> None:
    FULL.check()
    QUICK.check()
    assert FULL.rows == 1_008_000
    assert QUICK.rows == 100_800


def test_with_data_changes_hosts_and_hours_only() -> None:
    changed = FULL.with_data(hosts=50, hours=None)
    assert (changed.hosts, changed.hours, changed.stream_rows) == (50, FULL.hours, FULL.stream_rows)


@pytest.mark.parametrize("changes", [
    {"hours": 11},
    {"hours": 12, "hosts": 10},  # 432,000 rows, fewer than one psql run's 1,000,000
    {"hosts": 300, "hours": 40},  # 1,000,000 rows are not whole steps of 300 hosts
    {"clients": 0},
])
def test_check_rejects_sizes_that_do_not_fit(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        replace(FULL, **changes).check()


def test_stream_query_bounds_time_to_exact_rows() -> None:
    assert stream_query(1_000_000, 100) == (
        "SELECT time, hostname, usage_user, usage_system, usage_idle, usage_iowait FROM cpu "
        "WHERE time < TIMESTAMPTZ '2024-01-02 03:46:40+00' LIMIT 1000000")


def test_memory_query_repeats_loaded_rows_enough_times() -> None:
    assert memory_query(10_000_000, 1_008_000) == (
        "SELECT time, hostname, usage_user, usage_system, usage_idle, usage_iowait FROM cpu "
        "CROSS JOIN range(10) AS copies(copy) LIMIT 10000000")
