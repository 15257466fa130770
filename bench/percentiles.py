"""Medians and percentiles of timing samples, computed the same way for every suite."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` percentile (0..1) of ``values``, interpolating linearly between ranks.

    This is numpy's default ("linear") method: the value at position
    ``fraction * (n - 1)`` of the sorted values. Raises ValueError for no
    values or a fraction outside 0..1.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    weight = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * weight


def median(values: Sequence[float]) -> float:
    """Return the 50th percentile of ``values``."""
    return percentile(values, 0.5)
