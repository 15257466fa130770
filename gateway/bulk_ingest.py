"""``lakegate ingest``: importing line-protocol, CSV and Parquet files into a store.

Line-protocol files go through the same parser and type checks as HTTP
writes; CSV and Parquet files through the same type checks as INSERT. A
CSV or Parquet file becomes the measurement named by ``--measurement`` or,
without it, by the file's stem. Its ``time`` column may hold ISO 8601 text
(no offset means UTC) or timestamps; rows without one get the import time.

Line-protocol files are read and written in chunks of ``CHUNK_LINES``
lines or more, so that progress shows while a large file is read.
Chunks end between whole lines outside quoted strings, so a file stores
the same rows and rejects the same lines, with the same line numbers, as
it would in one piece. Lines without a timestamp get the time at which
their chunk is written.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gateway.errors import InvalidDatetimeFormat
from gateway.ingest.line_writer import LineProtocolWriter
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.progress import FileProgress
from gateway.runtime import Runtime
from gateway.sql.commands.insert import storage_table
from gateway.sql.measurements import Column
from gateway.storage import layout

logger = logging.getLogger(__name__)

SUFFIXES = (".lp", ".csv", ".parquet")

#: Lines of a line-protocol file handed to the writer at a time. A chunk
#: is longer when a quoted string (or what may be one) spans its end.
CHUNK_LINES = 50_000

#: Receives progress reports: at the start and end of each file, and after each chunk of a line-protocol file.
ProgressCallback = Callable[[FileProgress], None]

_UTF8_BOM = codecs.BOM_UTF8
_BACKSLASH = ord("\\")
_EQUALS = ord("=")


@dataclass
class IngestSummary:
    """Totals of one import: rows stored, Parquet files written, lines rejected with reasons."""

    rows: int = 0
    files_written: int = 0
    rejected: list[str] = field(default_factory=list)
    #: Measurements that CSV and Parquet files went into (line protocol names its own in each line).
    table_measurements: set[str] = field(default_factory=set)


def ingest_files(runtime: Runtime, paths: Iterable[Path], database: str, *, measurement: str | None = None,
                 precision: str = "ns", progress: ProgressCallback | None = None) -> IngestSummary:
    """Import every file into ``database``; raise GatewayError or ValueError before writing a bad file."""
    layout.validate_name(database, "database")
    report = progress or _no_progress
    summary = IngestSummary()
    for path in paths:
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(f"cannot import {path}: expected a .lp, .csv or .parquet file")
        total_bytes = path.stat().st_size
        rows_before = summary.rows
        report(FileProgress(path.name, 0, total_bytes, 0))
        if path.suffix.lower() == ".lp":
            _ingest_line_protocol(runtime, path, database, precision, summary, report)
        else:
            _ingest_table(runtime, path, database, measurement or path.stem, summary)
        report(FileProgress(path.name, total_bytes, total_bytes, summary.rows - rows_before, done=True))
    runtime.writer.flush_all()
    summary.files_written = runtime.writer.stats.files_written
    runtime.catalog.invalidate()
    return summary


def _no_progress(progress: FileProgress) -> None:
    pass


def _ingest_line_protocol(runtime: Runtime, path: Path, database: str, precision: str,
                          summary: IngestSummary, progress: ProgressCallback) -> None:
    _check_utf8(path)
    writer = LineProtocolWriter(runtime.writer)
    total_bytes = path.stat().st_size
    rows = 0
    for chunk in line_chunks(path):
        report = writer.write(database, chunk.data, precision)
        rows += report.rows
        summary.rows += report.rows
        # Line numbers in the report count from the chunk's first line.
        summary.rejected += [f"{path.name} line {chunk.first_line + error.line_number - 1}: {error.reason}"
                             for error in report.errors]
        progress(FileProgress(path.name, chunk.end_offset, total_bytes, rows))


@dataclass(frozen=True)
class LineChunk:
    """Whole lines of a line-protocol file.

    ``first_line`` is the 1-based number of the chunk's first line in the
    file, and ``end_offset`` the byte offset in the file where the chunk ends.
    """

    data: bytes
    first_line: int
    end_offset: int


def line_chunks(path: Path, lines_per_chunk: int = CHUNK_LINES) -> Iterator[LineChunk]:
    """Read a line-protocol file as chunks of at least ``lines_per_chunk`` lines, the last one excepted.

    Each chunk parses as the same lines would inside the whole file. It
    ends after a newline outside quoted strings. The next chunk does not
    start with a UTF-8 byte order mark, because the parser skips one only at
    the start of a payload. An empty file gives one empty chunk.
    """
    lines: list[bytes] = []
    first_line = 1
    offset = 0
    string_may_be_open = False
    with path.open("rb") as file:
        for line in file:
            if len(lines) >= lines_per_chunk and not string_may_be_open and not line.startswith(_UTF8_BOM):
                yield LineChunk(b"".join(lines), first_line, offset)
                first_line += len(lines)
                lines = []
            lines.append(line)
            offset += len(line)
            string_may_be_open = _string_may_be_open(line, string_may_be_open)
    if lines or first_line == 1:
        yield LineChunk(b"".join(lines), first_line, offset)


def _string_may_be_open(line: bytes, open_before: bool) -> bool:
    """Return whether a quoted string may be open after ``line``, given whether one may be open before it.

    Only the last quote read so far matters. If a string is open, that
    quote is either escaped inside the string (after an odd run of
    backslashes) or the opening quote, which follows ``key=`` where the key
    starts after a space or comma. True may be a false alarm, which only
    makes a chunk longer.
    """
    quote = line.rfind(b'"')
    if quote < 0:
        return open_before
    if quote == 0:
        return False

    before = line[quote - 1]
    if before == _BACKSLASH:
        return _backslashes_before(line, quote) % 2 == 1
    if before == _EQUALS:
        return _may_end_field_key(line, quote - 1)
    return False


def _backslashes_before(line: bytes, index: int) -> int:
    start = index
    while start > 0 and line[start - 1] == _BACKSLASH:
        start -= 1
    return index - start


def _may_end_field_key(line: bytes, equals: int) -> bool:
    """Return whether the ``=`` at ``equals`` may follow a field key, which cannot contain an unescaped ``=``."""
    separator = max(line.rfind(char, 0, equals) for char in (b"=", b",", b" "))
    if separator < 0:
        # In a string that spans lines, a key may start on an earlier line.
        return True
    if separator > 0 and line[separator - 1] == _BACKSLASH:
        return True
    return line[separator] != _EQUALS


def _check_utf8(path: Path) -> None:
    """Raise ValueError naming the line and byte offset of the first invalid UTF-8 in the file."""
    line = 1
    offset = 0
    pending = b""
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            # Decode up to the last newline, which never falls inside a
            # multi-byte sequence, and keep the rest for the next block.
            data = pending + block
            end = data.rfind(b"\n") + 1
            _decode_or_raise(data[:end], path, line, offset)
            line += data.count(b"\n", 0, end)
            offset += end
            pending = data[end:]
    _decode_or_raise(pending, path, line, offset)


def _decode_or_raise(data: bytes, path: Path, first_line: int, offset: int) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data.count(b"\n", 0, error.start)
        raise ValueError(f"cannot import {path}: invalid UTF-8 in line {line} at byte offset {offset + error.start}"
                         ) from None


def _ingest_table(runtime: Runtime, path: Path, database: str, measurement: str, summary: IngestSummary) -> None:
    layout.validate_name(measurement, "measurement")
    table = pq.read_table(path) if path.suffix.lower() == ".parquet" else pa_csv.read_csv(path)
    if "time" in table.column_names and not pa.types.is_timestamp(table["time"].type):
        table = table.set_column(table.column_names.index("time"), "time", _parse_times(table["time"], path))
    existing = [Column(name, kind) for name, kind in runtime.stored_columns(database, measurement).items()]
    stored = storage_table(table, existing, measurement)
    summary.rows += runtime.writer.write_table(database, measurement, stored)
    summary.table_measurements.add(measurement)


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
