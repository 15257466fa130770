"""The parts of the gateway process and of the session that DELETE, TRUNCATE and DROP work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
from sqlglot import exp

from gateway.engine import Engine
from gateway.errors import FeatureNotSupported
from gateway.ingest.arrow_writer import ArrowWriter
from gateway.sql.measurements import DATABASE_MARKER, Measurements
from gateway.sql.time_bounds import Evaluator
from gateway.storage import layout
from gateway.storage.file_versions import SUPERSEDED_GRACE


@dataclass
class RemovalContext:
    """The store, the writer and DuckDB, plus the session's database, parameters and limits."""

    measurements: Measurements
    writer: ArrowWriter
    engine: Engine
    #: The session's cursor: a cancel request or statement_timeout interrupts what runs on it.
    cursor: duckdb.DuckDBPyConnection
    #: The session's database, where a bare measurement name resolves.
    database: str
    #: Evaluates a constant expression to a timestamp, for the time bounds of a condition.
    evaluate: Evaluator
    #: Bound values of $1, $2 ...
    params: list[object] = field(default_factory=list)
    #: The --delete-max-rows limit.
    max_rows: int = 10_000_000
    #: Sends a notice to the client at once (progress of a long DELETE); None collects notices in the result.
    notify: Callable[[str], None] | None = None
    #: The --superseded-grace setting: how long old versions of rewritten files stay.
    superseded_grace: timedelta = SUPERSEDED_GRACE


def resolve_measurement(table: exp.Expression, context: RemovalContext) -> tuple[str, str]:
    """Return (database, stored measurement name) of a ``[db.]m`` reference.

    Raises InvalidName (42602), InvalidCatalogName (3D000) for an unknown
    database and UndefinedTable (42P01) for an unknown measurement.
    """
    if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
        raise FeatureNotSupported("expected a measurement name", hint="name a measurement as [database.]measurement")
    if table.catalog:
        raise FeatureNotSupported(
            f'cross-database reference "{table.catalog}.{table.db}.{table.name}" is not supported',
            hint="name a measurement as database.measurement",
        )
    database = layout.validate_name(table.db or context.database, "database")
    layout.validate_name(table.name, "measurement")
    return database, context.measurements.resolve(database, table.name)


def keep_database_listed(measurements: Measurements, database: str) -> None:
    """Write the database's marker object unless it exists, so that the database stays listed without files."""
    marker = layout.database_prefix(database) + DATABASE_MARKER
    if not measurements.backend.exists(marker):
        measurements.backend.write(marker, b"")
