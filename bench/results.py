"""One benchmark figure: the gateway's value, the reference's value and their ratio."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A line of the results table.

    ``reference`` is PostgreSQL 15's value for the same load, a target, or
    None where nothing compares; ``reference_name`` names which.
    ``higher_is_better`` is False for memory, where the smaller figure wins.
    """

    name: str
    unit: str
    gateway: float
    reference: float | None = None
    reference_name: str = ""
    detail: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """Return gateway / reference, or None without a usable reference."""
        if self.reference is None or self.reference == 0:
            return None
        return self.gateway / self.reference
