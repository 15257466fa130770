"""The two sides of the DELETE benchmark: a DELETE through the gateway, and the same removal by hand in DuckDB.

The gateway's side is timed at the client, from sending the DELETE to its
command tag. Its file counts come from EXPLAIN DELETE and are checked
against the store before and after. The reference reads every file of the
measurement with DuckDB, filters the rows out, and writes the rest as
hour-partitioned Parquet into a new directory: what a user without
Lakegate would run to remove rows from a Parquet data set.
"""

from __future__ import annotations

import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg

from bench.delete_data import DATABASE, MEASUREMENT
from gateway.storage.file_versions import newest_versions
from gateway.storage.layout import file_version
from gateway.storage.local import LocalBackend


class CheckFailed(RuntimeError):
    """A DELETE removed other rows or files than EXPLAIN DELETE reported, or a count is off."""


@dataclass(frozen=True)
class GatewayRun:
    """One DELETE through the gateway."""

    seconds: float
    rows: int
    files_total: int
    files_read: int
    files_removed: int
    files_rewritten: int
    bytes_rewritten: int


@dataclass(frozen=True)
class ReferenceRun:
    """One full rewrite by hand in DuckDB."""

    seconds: float
    rows_kept: int
    files_read: int
    files_written: int


def gateway_delete(connection: psycopg.Connection, backend: LocalBackend, condition: str) -> GatewayRun:
    """Run ``DELETE FROM cpu WHERE condition`` and return its time and files; raise CheckFailed on a mismatch."""
    plan = _explain(connection, condition)
    rows_before = _count(connection)
    before = _listing(backend)

    started = time.perf_counter()
    tag = connection.execute(f"DELETE FROM {MEASUREMENT} WHERE {condition}").statusmessage
    seconds = time.perf_counter() - started

    after = _listing(backend)
    removed = len(before.keys() - after.keys())
    rewritten = sum(1 for path in after.keys() & before.keys() if after[path] != before[path])
    rows = int(str(tag).split()[1])
    if (removed, rewritten, rows) != (plan["remove"], plan["rewrite"], plan["rows"]):
        raise CheckFailed(f"DELETE {condition!r} removed {removed} files, rewrote {rewritten} and {rows} rows; "
                          f"EXPLAIN DELETE reported {plan}")
    if _count(connection) != rows_before - rows:
        raise CheckFailed(f"after DELETE {rows}, count(*) is not {rows_before - rows}")
    return GatewayRun(seconds, rows, len(before), plan["read"], removed, rewritten, plan["bytes"])


def reference_rewrite(store: Path, output: Path, condition: str) -> ReferenceRun:
    """Read every file of bench.cpu, drop the rows matching ``condition``, write the rest hour-partitioned."""
    shutil.rmtree(output, ignore_errors=True)
    pattern = store / DATABASE / MEASUREMENT / "*" / "*" / "*" / "*" / "*.parquet"
    files_read = len(list(store.glob(f"{DATABASE}/{MEASUREMENT}/*/*/*/*/*.parquet")))
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        started = time.perf_counter()
        connection.execute(
            f"COPY (SELECT *, year(time) AS year, month(time) AS month, day(time) AS day, hour(time) AS hour "
            f"FROM read_parquet('{pattern}') WHERE ({condition}) IS NOT TRUE) "
            f"TO '{output}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year, month, day, hour))")
        seconds = time.perf_counter() - started
        row = connection.execute(f"SELECT count(*) FROM read_parquet('{output}/**/*.parquet')").fetchone()
    finally:
        connection.close()
    written = len(list(output.rglob("*.parquet")))
    shutil.rmtree(output, ignore_errors=True)
    return ReferenceRun(seconds, int(row[0]) if row else 0, files_read, written)


def median_seconds(runs: list[GatewayRun] | list[ReferenceRun]) -> float:
    return statistics.median(run.seconds for run in runs)


def _explain(connection: psycopg.Connection, condition: str) -> dict[str, int]:
    lines = [str(line) for (line,) in connection.execute(
        f"EXPLAIN DELETE FROM {MEASUREMENT} WHERE {condition}").fetchall()]
    values = {line.strip().split(":")[0]: line.split(":", 1)[1].strip() for line in lines[1:] if ":" in line}
    rewrite, _, size = values["Files to rewrite"].partition(", ")
    return {
        "rows": int(lines[0].rsplit(": ", 1)[1].split()[0]),
        "read": int(values["Candidate files"].split()[0]),
        "remove": int(values["Files to remove"]),
        "rewrite": int(rewrite),
        "bytes": int(size.split()[0]),
    }


def _count(connection: psycopg.Connection) -> int:
    row = connection.execute(f"SELECT count(*) FROM {MEASUREMENT}").fetchone()
    return int(row[0]) if row else 0


def _listing(backend: LocalBackend) -> dict[str, tuple[str, int, float]]:
    """Return {file: (version, size, mtime)} of the newest version of each file, the one queries read."""
    live, _ = newest_versions(backend.list_objects(f"{DATABASE}/{MEASUREMENT}/"))
    return {file_version(info.path)[0]: (file_version(info.path)[1], info.size, info.last_modified.timestamp())
            for info in live}
