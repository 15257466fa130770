"""The lines EXPLAIN shows: the files each measurement reads, then DuckDB's plan."""

from __future__ import annotations

from gateway.sql.rewrite import ScanPlan


def explain_lines(plan: ScanPlan, duckdb_plan: list[str]) -> list[str]:
    """Return the QUERY PLAN rows: one summary per measurement scan, then the DuckDB plan."""
    lines = []
    for scan in plan.scans:
        partitions = sorted({info.path.rsplit("/", 1)[0] for info in scan.chosen})
        buffered = f", {scan.buffered.num_rows} buffered rows" if scan.buffered is not None else ""
        lines.append(
            f"Lakegate scan {scan.database}.{scan.measurement}: "
            f"{len(scan.chosen)} of {scan.total} files, {len(partitions)} partitions{buffered}"
        )
        lines.extend(f"  partition {partition}" for partition in partitions)
    for block in duckdb_plan:
        lines.extend(block.splitlines())
    return lines
