"""A target of the performance work and whether one run's measurement meets it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.tables import ratio_text


@dataclass(frozen=True)
class Target:
    """A measured value with the limit it must stay under (``at_most``) or reach (otherwise).

    ``unit`` follows the numbers in text: ``"x"`` for ratios, ``" MiB"`` for memory.
    """

    name: str
    measured: float
    limit: float
    at_most: bool
    unit: str = "x"

    @property
    def met(self) -> bool:
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    @property
    def requirement(self) -> str:
        """Return the target as text, such as ``<= 1.10x`` or ``>= 20x``."""
        return f"{'<=' if self.at_most else '>='} {_number(self.limit)}{self.unit}"

    @property
    def verdict(self) -> str:
        """Return ``met``, or the gap: how far the measurement is from the limit, as a factor."""
        if self.met:
            return "met"
        if self.measured == 0 or self.limit == 0:
            return "not met"
        factor = self.measured / self.limit if self.at_most else self.limit / self.measured
        return f"not met: {ratio_text(factor)} times off the limit"

    @property
    def measured_text(self) -> str:
        return f"{_number(self.measured)}{self.unit}"

    def line(self) -> str:
        """Return ``name: measured (target requirement): verdict``."""
        return f"{self.name}: {self.measured_text} (target {self.requirement}): {self.verdict}"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return ratio_text(value)
