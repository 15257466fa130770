"""Figures as a plain-text table for the terminal and as a Markdown table for the results page."""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import Figure

_HEADINGS = ("measurement", "unit", "Lakegate", "reference", "ratio")


def format_value(value: float, unit: str) -> str:
    """Return a figure as text: whole numbers with thousands separators, MiB with one decimal."""
    if unit == "MiB":
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def ratio_text(ratio: float) -> str:
    """Return a ratio with two decimals, or two significant digits below 0.1 so that it never reads 0.00."""
    return f"{ratio:.2g}" if ratio < 0.1 else f"{ratio:.2f}"


def format_ratio(figure: Figure) -> str:
    ratio = figure.ratio
    return "" if ratio is None else f"{ratio_text(ratio)}x"


def _reference(figure: Figure) -> str:
    if figure.reference is None:
        return ""
    return f"{figure.reference_name}: {format_value(figure.reference, figure.unit)}"


def _cells(figure: Figure) -> list[str]:
    return [figure.name, figure.unit, format_value(figure.gateway, figure.unit), _reference(figure),
            format_ratio(figure)]


def text_table(figures: Sequence[Figure]) -> str:
    """Return the figures as aligned columns, numbers right-aligned, without the detail text."""
    rows = [list(_HEADINGS), *(_cells(figure) for figure in figures)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADINGS))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def markdown_table(figures: Sequence[Figure]) -> str:
    """Return the figures as a Markdown table with a detail column."""
    lines = ["| " + " | ".join([*_HEADINGS, "detail"]) + " |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for figure in figures:
        lines.append("| " + " | ".join([*_cells(figure), figure.detail]) + " |")
    return "\n".join(lines)
