"""The table of crash-trial totals, and the ``crash`` section of docs/reliability.md."""

from __future__ import annotations

from pathlib import Path

from bench.machine import machine_description, software_versions, source_revision
from bench.page import replace_section
from reliability.outcome import OperationTotals

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"

_HEADER = ("| operation | trials | trial errors | killed mid-operation | acknowledged rows | lost | duplicated "
           "| invalid state | incomplete after re-run | files listed | unreadable files "
           "| temporary files listed | temporary files left |")


def totals_table(totals: list[OperationTotals]) -> str:
    """Return a Markdown table with one row per operation."""
    lines = [_HEADER, "|" + " --- |" * _HEADER.count(" | ") + " --- |"]
    for total in totals:
        counts = [total.trials, total.errors, total.interrupted, total.acknowledged, total.lost, total.duplicated,
                  total.invalid, total.incomplete, total.files_listed, total.unreadable,
                  total.temporary_listed, total.temporary_left]
        lines.append(f"| {total.operation} | " + " | ".join(str(count) for count in counts) + " |")
    return "\n".join(lines)


def write_section(totals: list[OperationTotals], seed: int, command: str, storage: str) -> None:
    """Rewrite the ``crash`` section of docs/reliability.md with the totals and how they were produced."""
    body = f"""## Crash safety (SIGKILL)

`{command}` starts `lakegate serve` on a fresh {storage} store for each
trial, runs an operation, kills the gateway with SIGKILL after a random
delay, restarts it on the same store and write-ahead-log directory, and
checks the rows through the restarted gateway:

- ingest flush: three writers send rows with unique ids by INSERT, COPY and
  line protocol while `--flush-rows 300 --flush-age 0.2` flush buffers
  several times a second. Every acknowledged row must be there exactly
  once, and no row that was never sent may appear.
- DELETE: 48 hour files (one per partition) plus 10 rows still buffered
  when the DELETE starts, which it flushes as a second file of one hour,
  and a DELETE that removes 6 files whole and rewrites the others. A DELETE
  changes each file in one step, so each file must hold either all its
  rows or exactly the rows outside the condition. An hour of two files may
  have one done and the other not until the DELETE runs again.
- retention run: 48 hours of rows up to the current hour and a 24-hour
  policy, run by `EXECUTE RETENTION POLICY`. Each hour must keep the rows
  newer than some instant, and no row newer than the cutoff at the kill may
  be removed.
- continuous-query window: an hourly query over 96 hours of source rows,
  already run once over the first 48, then run by `EXECUTE CONTINUOUS QUERY`
  over all 96. Each window of the destination must be either empty (only
  for windows not stored before) or exactly its aggregates.

After the check the statement runs again (ingest: `CHECKPOINT`), and every
partition or window must then be in its final state. Every Parquet file the
store lists, superseded versions included, must read whole in pyarrow, both
at rest after the kill and at the end, and no listed name may be a temporary
file. Temporary files left on disk by a kill are counted but never listed.
The kill delays are drawn from 0 to 1.2 times the longest run seen to end,
so some kills land after the operation finished ("killed mid-operation"
counts the others). A trial error is a trial that raised before its checks
ended, such as a statement that failed on the restarted gateway.

{totals_table(totals)}

A continuous-query run deletes the stored rows of a group of windows before
it writes their new rows. It records the group as pending in the query's
document first, and a restarted `lakegate serve` stores pending windows
again before it accepts connections, so a kill between the two steps is
not seen by clients. A window still empty or incomplete after the restart
counts as invalid state and its rows as lost.

Seed {seed}. Machine: {machine_description()}. Software: {software_versions()}.
Source: {source_revision()}.
"""
    replace_section(PAGE, "crash", body)
