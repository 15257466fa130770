"""The QUERY PLAN lines of EXPLAIN DELETE: files, partitions, rows and bytes a DELETE would touch."""

from __future__ import annotations

from datetime import datetime

from gateway.sql.commands.delete_plan import DeletePlan


def explain_lines(plan: DeletePlan, buffered_rows: int, max_rows: int) -> list[str]:
    """Return a summary, then one line per file the DELETE would remove or rewrite."""
    rows = plan.rows + buffered_rows
    candidate_partitions = {info.path.rsplit("/", 1)[0] for info in plan.candidates}
    lines = [
        f"Delete on {plan.database}.{plan.measurement}: {rows} rows",
        f"  Time range: {_bound(plan.time_range.low)} to {_bound(plan.time_range.high)}",
        f"  Candidate files: {len(plan.candidates)} of {plan.total_files}",
        f"  Candidate partitions: {len(candidate_partitions)}",
        f"  Files to remove: {len(plan.removed)}",
        f"  Files to rewrite: {len(plan.rewritten)}, {plan.bytes_to_rewrite} bytes",
        f"  Files unchanged: {len(plan.candidates) - len(plan.matches)}",
        f"  Partitions affected: {len(plan.partitions)}",
        f"  Buffered rows to delete: {buffered_rows}",
    ]
    if rows > max_rows:
        lines.append(f"  Rows exceed --delete-max-rows {max_rows}: the DELETE would be rejected")
    for match in plan.matches:
        if match.whole:
            lines.append(f"  remove {match.info.path}: {match.matched} of {match.rows} rows")
        else:
            lines.append(f"  rewrite {match.info.path}: {match.matched} of {match.rows} rows, "
                         f"{match.info.size} bytes")
    return lines


def _bound(value: datetime | None) -> str:
    return "unbounded" if value is None else value.isoformat(sep=" ")
