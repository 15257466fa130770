"""Percentile maths of the benchmark reports: linear interpolation between ranks, as numpy's default."""

from __future__ import annotations

import pytest

from bench.percentiles import median, percentile


def test_percentile_of_ranks_and_between_them() -> None:
    values = [40.0, 10.0, 30.0, 20.0, 50.0]
    assert percentile(values, 0.0) == 10.0
    assert percentile(values, 0.5) == 30.0
    assert percentile(values, 1.0) == 50.0
    assert percentile(values, 0.25) == 20.0
    assert percentile(values, 0.99) == pytest.approx(49.6)


def test_percentile_of_one_value() -> None:
    assert percentile([7.0], 0.99) == 7.0


def test_median_of_even_count_is_mean_of_middle_pair() -> None:
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_percentile_rejects_no_values() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_percentile_rejects_fraction_outside_0_to_1(fraction: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], fraction)
