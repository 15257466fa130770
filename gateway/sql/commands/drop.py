"""TRUNCATE [TABLE] [db.]m[, ...], DROP TABLE [IF EXISTS] [db.]m[, ...], DROP DATABASE|SCHEMA [IF EXISTS] db.

Each removes the files of whole measurements through the backend's batch
delete, holding the measurement's lock (see measurement_locks.py), after
flushing its buffered rows (see acknowledged_files.py): rows acknowledged
before the statement began are removed, rows written while it runs are
kept. A measurement exists while it has rows, so after TRUNCATE or DROP
TABLE it is no longer listed. Its database stays listed, because a marker
object is written, until DROP DATABASE.
"""

from __future__ import annotations

import logging

from sqlglot import exp

from gateway.errors import (
    FeatureNotSupported,
    GatewayError,
    InvalidCatalogName,
    UndefinedTable,
)
from gateway.sql.commands.acknowledged_files import acknowledged_files
from gateway.sql.commands.measurement_locks import measurement_lock
from gateway.sql.commands.removal_context import (
    RemovalContext,
    keep_database_listed,
    resolve_measurement,
)
from gateway.sql.results import Result
from gateway.sql.time_bounds import TimeRange
from gateway.storage import layout
from gateway.storage.file_versions import remove_files

logger = logging.getLogger(__name__)


class DependentObjectsStillExist(GatewayError):
    sqlstate = "2BP01"


def truncate(tree: exp.TruncateTable, context: RemovalContext) -> Result:
    """Remove every row of the named measurements; all must exist (42P01 or 3D000 otherwise)."""
    if tree.args.get("is_database"):
        raise FeatureNotSupported("TRUNCATE DATABASE is not supported", hint="DROP DATABASE removes a database")
    targets = [resolve_measurement(table, context) for table in tree.expressions]
    for database, measurement in targets:
        _remove_measurement(context, database, measurement, whole_directory=False)
    return Result(tag="TRUNCATE TABLE")


def drop(tree: exp.Drop, context: RemovalContext) -> Result:
    """Run DROP TABLE or DROP DATABASE | SCHEMA; other kinds raise FeatureNotSupported (0A000)."""
    kind = str(tree.args.get("kind") or "").upper()
    if kind == "TABLE":
        return _drop_tables(tree, context)
    if kind in ("DATABASE", "SCHEMA"):
        return _drop_database(tree, kind, context)
    raise FeatureNotSupported(f"DROP {kind} is not supported",
                              hint="Lakegate drops measurements (DROP TABLE) and databases (DROP DATABASE)")


def _drop_tables(tree: exp.Drop, context: RemovalContext) -> Result:
    # As in PostgreSQL, every name is checked before anything is dropped.
    tables = tree.args.get("tables") or [tree.this]
    targets = []
    notices = []
    for table in tables:
        try:
            targets.append(resolve_measurement(table, context))
        except (UndefinedTable, InvalidCatalogName):
            if not tree.args.get("exists"):
                raise
            notices.append(f'measurement "{table.name}" does not exist, skipping')
    for database, measurement in targets:
        _remove_measurement(context, database, measurement, whole_directory=True)
    return Result(tag="DROP TABLE", notices=notices)


def _drop_database(tree: exp.Drop, kind: str, context: RemovalContext) -> Result:
    # As in PostgreSQL, every name is checked before anything is dropped.
    targets = tree.args.get("tables") or [tree.this]
    names = [layout.validate_name(target.name or target.db, "database") for target in targets]
    existing = []
    notices = []
    for name in names:
        if context.measurements.database_exists(name):
            existing.append(name)
        elif tree.args.get("exists"):
            notices.append(f'database "{name}" does not exist, skipping')
        else:
            raise InvalidCatalogName(f'database "{name}" does not exist', hint="SHOW DATABASES lists the databases")
    contents = {name: context.measurements.measurements(name) for name in existing}
    if tree.args.get("restrict"):
        for name, measurements in contents.items():
            if measurements:
                raise DependentObjectsStillExist(
                    f'cannot drop database "{name}" because it has measurements',
                    detail=f"{len(measurements)} measurements, for example {measurements[0]}",
                    hint=f"DROP {kind} {name} without RESTRICT drops them too")
    for name, measurements in contents.items():
        for measurement in measurements:
            _remove_measurement(context, name, measurement, whole_directory=True, keep_database=False)
        _remove_database_objects(context, name)
    return Result(tag=f"DROP {kind}", notices=notices)


def _remove_measurement(context: RemovalContext, database: str, measurement: str, *, whole_directory: bool,
                        keep_database: bool = True) -> None:
    """Delete the measurement's files; with ``whole_directory`` also its objects outside hour partitions."""
    measurements = context.measurements
    backend = measurements.backend
    with measurement_lock(database, measurement, backend):
        if keep_database:
            keep_database_listed(measurements, database)
        files = acknowledged_files(measurements, context.writer, database, measurement, TimeRange())
        paths = [info.path for info in files.chosen]
        if whole_directory:
            prefix = layout.measurement_prefix(database, measurement)
            paths += [path for path in backend.list(prefix) if layout.partition_of(path[len(prefix):]) is None]
        remove_files(backend, paths, files.superseded)
        context.writer.forget(database, measurement)
    logger.info("removed %d objects of measurement %s.%s", len(paths), database, measurement)


def _remove_database_objects(context: RemovalContext, database: str) -> None:
    """Delete the database marker and objects outside measurement directories.

    Directories of measurements created while the DROP ran are left alone.
    """
    backend = context.measurements.backend
    prefix = layout.database_prefix(database)
    paths = []
    for path in backend.list(prefix):
        first, separator, _ = path[len(prefix):].partition("/")
        if not separator or not layout.is_listable_name(first):
            paths.append(path)
    backend.delete_batch(paths)
    logger.info("dropped database %s", database)
