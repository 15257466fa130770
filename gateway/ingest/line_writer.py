"""Storing a line-protocol request: parse, check names and types, hand the rows to the buffered writer.

When ``write`` returns, the rows are in the write-ahead log and visible to
queries, so the request can be acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import DatatypeMismatch, InvalidName
from gateway.ingest.arrow_writer import ArrowWriter
from gateway.ingest.column_kinds import ARROW_TYPES, DUCKDB_NAMES
from gateway.ingest.line_batches import MeasurementBatch
from gateway.ingest.lineprotocol import LineError, parse_batches
from gateway.ingest.point_tables import batches_to_tables
from gateway.storage import layout

logger = logging.getLogger(__name__)


@dataclass
class WriteReport:
    """Outcome of one write request: rows stored and lines rejected."""

    rows: int = 0
    errors: list[LineError] = field(default_factory=list)


class LineProtocolWriter:
    """Writes line-protocol requests into the store.

    ``max_line_bytes`` rejects longer lines as invalid lines; None sets no limit.
    """

    def __init__(self, writer: ArrowWriter, on_write: Callable[[], None] | None = None,
                 max_line_bytes: int | None = None) -> None:
        self.writer = writer
        self.on_write = on_write or (lambda: None)
        self.max_line_bytes = max_line_bytes

    def write(self, database: str, body: bytes, precision: str = "ns") -> WriteReport:
        """Store the valid lines of ``body`` in ``database``; raise InvalidName for a bad database name.

        A line that is not valid UTF-8 is rejected like any other invalid
        line. Raises ValueError for an unknown precision.
        """
        layout.validate_name(database, "database")
        parsed = parse_batches(body, precision=precision, max_line_bytes=self.max_line_bytes)
        batches, errors = _valid_names(parsed.batches)
        tables, conflicts = batches_to_tables(batches, lambda name: self._column_types(database, name))
        report = WriteReport(errors=[*parsed.errors, *errors, *conflicts])
        for measurement, table in tables.items():
            try:
                report.rows += self.writer.write_table(database, measurement, table)
            except DatatypeMismatch as error:
                # Another request changed the column in between: the lines of this measurement are rejected.
                rejected = set(batches[measurement].all_line_numbers()) - {
                    conflict.line_number for conflict in conflicts}
                report.errors.extend(LineError(number, error.message, "") for number in sorted(rejected))
        report.errors.sort(key=lambda error: error.line_number)
        if tables:
            self.on_write()
        logger.debug("line protocol write to %s: %d rows, %d lines rejected", database, report.rows,
                     len(report.errors))
        return report

    def _column_types(self, database: str, measurement: str) -> dict[str, str]:
        return {name: DUCKDB_NAMES[ARROW_TYPES[kind]]
                for name, kind in self.writer.column_kinds(database, measurement).items() if kind in ARROW_TYPES}


def _valid_names(batches: dict[str, MeasurementBatch]) -> tuple[dict[str, MeasurementBatch], list[LineError]]:
    valid: dict[str, MeasurementBatch] = {}
    errors: list[LineError] = []
    for name, batch in batches.items():
        try:
            layout.validate_name(name, "measurement")
        except InvalidName as error:
            errors.extend(LineError(number, error.message, "") for number in batch.all_line_numbers())
            continue
        valid[name] = batch
    return valid, errors
