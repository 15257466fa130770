"""Storing a line-protocol request: parse, check names and types, write Parquet.

Rows are written before the request is acknowledged, through the same
hour-partitioned write path as INSERT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import InvalidName
from gateway.ingest.lineprotocol import LineError, Point, parse_lines
from gateway.ingest.parquet_files import write_hour_files
from gateway.ingest.point_tables import points_to_tables
from gateway.storage import layout
from gateway.storage.backend import Backend

logger = logging.getLogger(__name__)

#: Returns the stored columns of (database, measurement) as {name: DuckDB type}; empty when it has none.
StoredColumns = Callable[[str, str], dict[str, str]]


@dataclass
class WriteReport:
    """Outcome of one write request: rows stored and lines rejected."""

    rows: int = 0
    files: int = 0
    errors: list[LineError] = field(default_factory=list)


class LineProtocolWriter:
    """Writes line-protocol requests into the store."""

    def __init__(self, backend: Backend, stored_columns: StoredColumns,
                 on_write: Callable[[], None] | None = None) -> None:
        self.backend = backend
        self.stored_columns = stored_columns
        self.on_write = on_write or (lambda: None)

    def write(self, database: str, body: bytes, precision: str = "ns") -> WriteReport:
        """Store the valid lines of ``body`` in ``database``; raise InvalidName for a bad database name.

        Raises ValueError for a body that is not UTF-8 or an unknown precision.
        """
        layout.validate_name(database, "database")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"request body is not valid UTF-8 at byte {error.start}") from error
        parsed = parse_lines(text, precision=precision)
        points, errors = _valid_names(parsed.points)
        tables, conflicts = points_to_tables(points, lambda name: self.stored_columns(database, name))
        report = WriteReport(errors=sorted([*parsed.errors, *errors, *conflicts],
                                           key=lambda error: error.line_number))
        for measurement, table in tables.items():
            report.files += len(write_hour_files(self.backend, database, measurement, table))
            report.rows += table.num_rows
        if tables:
            self.on_write()
        logger.debug("line protocol write to %s: %d rows, %d lines rejected", database, report.rows,
                     len(report.errors))
        return report


def _valid_names(points: list[Point]) -> tuple[list[Point], list[LineError]]:
    valid: list[Point] = []
    errors: list[LineError] = []
    for point in points:
        try:
            layout.validate_name(point.measurement, "measurement")
        except InvalidName as error:
            errors.append(LineError(point.line_number, error.message, ""))
            continue
        valid.append(point)
    return valid, errors



