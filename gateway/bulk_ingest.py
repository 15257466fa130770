"""``lakegate ingest``: importing line-protocol, CSV and Parquet files into a store.

Line-protocol files go through the same parser and type checks as HTTP
writes; CSV and Parquet files through the same type checks as INSERT. A
CSV or Parquet file becomes the measurement named by ``--measurement`` or,
without it, by the file's stem. Its ``time`` column may hold ISO 8601 text
(no offset means UTC) or timestamps; rows without one get the import time.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gateway.errors import InvalidDatetimeFormat
from gateway.ingest.line_writer import LineProtocolWriter
from gateway.ingest.parquet_files import TIME_TYPE, write_hour_files
from gateway.runtime import Runtime
from gateway.sql.commands.insert import storage_table
from gateway.sql.measurements import Column
from gateway.storage import layout

logger = logging.getLogger(__name__)

SUFFIXES = (".lp", ".csv", ".parquet")


@dataclass
class IngestSummary:
    """Totals of one import: rows stored, Parquet files written, lines rejected with reasons."""

    rows: int = 0
    files_written: int = 0
    rejected: list[str] = field(default_factory=list)


def ingest_files(runtime: Runtime, paths: Iterable[Path], database: str, *, measurement: str | None = None,
                 precision: str = "ns", progress: Callable[[str], None] | None = None) -> IngestSummary:
    """Import every file into ``database``; raise GatewayError or ValueError before writing a bad file."""
    layout.validate_name(database, "database")
    summary = IngestSummary()
    for path in paths:
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(f"cannot import {path}: expected a .lp, .csv or .parquet file")
        if path.suffix.lower() == ".lp":
            _ingest_line_protocol(runtime, path, database, precision, summary)
        else:
            _ingest_table(runtime, path, database, measurement or path.stem, summary)
        if progress is not None:
            progress(f"{path.name}: {summary.rows} rows so far")
    runtime.catalog.invalidate()
    return summary


def _ingest_line_protocol(runtime: Runtime, path: Path, database: str, precision: str,
                          summary: IngestSummary) -> None:
    writer = LineProtocolWriter(runtime.backend, runtime.stored_columns)
    report = writer.write(database, path.read_bytes(), precision)
    summary.rows += report.rows
    summary.files_written += report.files
    summary.rejected += [f"{path.name} line {error.line_number}: {error.reason}" for error in report.errors]


def _ingest_table(runtime: Runtime, path: Path, database: str, measurement: str, summary: IngestSummary) -> None:
    layout.validate_name(measurement, "measurement")
    table = pq.read_table(path) if path.suffix.lower() == ".parquet" else pa_csv.read_csv(path)
    if "time" in table.column_names and not pa.types.is_timestamp(table["time"].type):
        table = table.set_column(table.column_names.index("time"), "time", _parse_times(table["time"], path))
    existing = [Column(name, kind) for name, kind in runtime.stored_columns(database, measurement).items()]
    stored = storage_table(table, existing, measurement)
    written = write_hour_files(runtime.backend, database, measurement, stored)
    summary.rows += stored.num_rows
    summary.files_written += len(written)


def _parse_times(values: pa.ChunkedArray, path: Path) -> pa.Array:
    """Parse ISO 8601 text into timestamp[us, UTC]; a value without offset is UTC."""
    parsed = []
    for row, value in enumerate(values.to_pylist(), start=1):
        if value is None:
            parsed.append(None)
            continue
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise InvalidDatetimeFormat(f'invalid time "{value}" in row {row} of {path.name}',
                                        hint="write times in ISO 8601, for example 2024-01-01T00:00:00Z") from error
        parsed.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return pa.array(parsed, TIME_TYPE)


def print_progress(message: str) -> None:
    """Show progress on one terminal line; print nothing when stderr is not a terminal."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()

