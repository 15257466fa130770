"""Databases, measurements, their files and their column union, read from storage.

Calls list storage afresh, so files written by another gateway on the same
bucket are seen by the next statement, except where a caller passes
``cached=True``: queries do, and reuse listings while listing_cache.py
finds them current. The column schema of each file is cached, keyed
by path, size and modification time.

Rows this gateway has acknowledged but not yet flushed come from the
buffered writer (``buffered``): they count in the listings, and a scan
reads them next to the files. The writer's snapshot is taken before the
listing, and listed files that a snapshotted buffer wrote are left out, so
rows being flushed are read exactly once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from typing import Protocol

import pyarrow as pa

from gateway.engine import Engine
from gateway.errors import InvalidCatalogName, StorageError, UndefinedTable
from gateway.ingest.arrow_writer import BufferedRows
from gateway.sql.file_schemas import Column, FileGone, FileSchema, read_file_schemas
from gateway.sql.listing_cache import ListingCache
from gateway.sql.time_bounds import TIME_COLUMN, TimeRange
from gateway.storage import layout
from gateway.storage.backend import ObjectInfo
from gateway.storage.file_versions import newest_versions

logger = logging.getLogger(__name__)

#: Attempts to read a column union whose files are removed before DuckDB reads their footers.
UNION_ATTEMPTS = 3

DATABASE_MARKER = "_lakegate_database"


@dataclass(frozen=True)
class MeasurementFiles:
    """The files of one measurement chosen for a time range, how many it has in all, and its buffered rows."""

    database: str
    measurement: str
    chosen: list[ObjectInfo]
    total: int
    buffered: pa.Table | None = None
    #: Older versions of chosen files, left by DELETE rewrites and never read (see gateway/storage/file_versions.py).
    superseded: list[ObjectInfo] = field(default_factory=list)
    #: Every file of the measurement, chosen or not (the newest versions, buffers' files left out).
    listed: list[ObjectInfo] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class _StoredSchemas:
    """The columns of a measurement's files, kept with the keys of the files they were read from."""

    keys: frozenset[tuple[str, int, float]]
    #: The column union of all the files: ``time`` first, then alphabetical.
    union: list[Column]
    by_path: dict[str, FileSchema]
    #: The list of files they were read for. The same list object again skips the comparison of keys.
    files: list[ObjectInfo] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _Partitioned:
    """A listing's newest file versions with their hour partitions, and the older versions.

    One is kept per measurement while the listing cache returns the same
    ``objects`` list. A repeated query then neither splits the listing
    again nor builds a new list of files (``every``), and the schema cache
    recognises that list by identity.
    """

    objects: list[ObjectInfo]
    live: list[tuple[ObjectInfo, layout.Partition]]
    every: list[ObjectInfo]
    superseded: list[ObjectInfo]


class BufferedSource(Protocol):
    """The part of the buffered writer that listings read: snapshots and buffered names."""

    def snapshot(self, database: str, measurement: str) -> BufferedRows: ...

    def databases(self) -> set[str]: ...

    def measurements(self, database: str) -> set[str]: ...


class Measurements:
    """Reads the store's databases, measurements and Parquet files."""

    def __init__(self, engine: Engine, listing_ttl: float = 0.0) -> None:
        """``listing_ttl`` is how long, in seconds, queries reuse an S3 or Azure listing (0: never)."""
        self.engine = engine
        self.backend = engine.backend
        self._listings = ListingCache(self.backend, listing_ttl)
        self._schemas: dict[tuple[str, str], _StoredSchemas] = {}
        self._lock = threading.Lock()
        self.buffered: BufferedSource | None = None
        self._buffer_schemas: dict[pa.Schema, list[Column]] = {}
        self._partitions: dict[str, _Partitioned] = {}

    # Listings

    def databases(self, cached: bool = False) -> list[str]:
        """Return the database names, sorted; names starting with '.' or '_' are hidden."""
        names = set(self._directories("", cached))
        if self.buffered is not None:
            names |= self.buffered.databases()
        return sorted(name for name in names if layout.is_listable_name(name))

    def measurements(self, database: str, cached: bool = False) -> list[str]:
        """Return the measurement names of a database, sorted (empty if it does not exist)."""
        names = set(self._directories(layout.database_prefix(database), cached))
        if self.buffered is not None:
            names |= self.buffered.measurements(database)
        return sorted(name for name in names if layout.is_listable_name(name))

    def database_exists(self, database: str, cached: bool = False) -> bool:
        return database in self.databases(cached)

    def create_database(self, database: str) -> bool:
        """Create an empty database; return False if it already existed."""
        if self.database_exists(database):
            return False
        self.backend.write(layout.database_prefix(database) + DATABASE_MARKER, b"")
        return True

    def resolve(self, database: str, name: str, cached: bool = False) -> str:
        """Return the stored spelling of measurement ``name``, matching case-insensitively.

        Raises InvalidCatalogName (3D000) if the database does not exist and
        UndefinedTable (42P01) if it has no measurement of that name.
        """
        layout.validate_name(name, "measurement")
        names = self.measurements(database, cached)
        if name in names:
            return name
        if not names and not self.database_exists(database, cached):
            raise InvalidCatalogName(
                f'database "{database}" does not exist', hint="SHOW DATABASES lists the databases"
            )
        matches = [stored for stored in names if stored.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        raise UndefinedTable(
            f'measurement "{name}" does not exist',
            hint=f'SHOW TABLES FROM "{database}" lists the measurements of database "{database}"',
        )

    def files(self, database: str, measurement: str, time_range: TimeRange,
              cached: bool = False) -> MeasurementFiles:
        """Return the Parquet files whose partition overlaps ``time_range``, sorted by path."""
        buffered = self._snapshot(database, measurement)
        listed = self._listed(database, measurement, time_range, buffered, cached)
        return MeasurementFiles(database, measurement, listed.chosen, listed.total, buffered.table,
                                listed.superseded, listed.listed)

    def _listed(self, database: str, measurement: str, time_range: TimeRange,
                buffered: BufferedRows, cached: bool = False) -> MeasurementFiles:
        prefix = layout.measurement_prefix(database, measurement)
        partitioned = self._partitioned(prefix, cached)
        if buffered.segment_ids:
            every = [info for info, _ in partitioned.live if not buffered.owns(info.path)]
        else:
            every = partitioned.every
        chosen: list[ObjectInfo] = []
        if not time_range.empty:
            chosen = [info for info, partition in partitioned.live
                      if partition.overlaps(time_range.low, time_range.high) and not buffered.owns(info.path)]
        chosen_bases = {layout.file_version(info.path)[0] for info in chosen}
        older = [info for info in partitioned.superseded if layout.file_version(info.path)[0] in chosen_bases]
        return MeasurementFiles(database, measurement, chosen, len(every), superseded=older, listed=every)

    def _partitioned(self, prefix: str, cached: bool) -> _Partitioned:
        """Split a listing into newest versions with their partitions, reusing the split of a kept listing."""
        objects = self._objects(prefix, cached)
        with self._lock:
            previous = self._partitions.get(prefix)
        if previous is not None and previous.objects is objects:
            return previous
        live, superseded = newest_versions(objects)
        with_partitions = [(info, layout.partition_of(info.path[len(prefix):])) for info in live]
        in_partitions = [(info, partition) for info, partition in with_partitions if partition is not None]
        split = _Partitioned(objects, in_partitions, [info for info, _ in in_partitions], superseded)
        if cached:
            with self._lock:
                self._partitions[prefix] = split
        return split

    def forget_listings(self) -> None:
        """Drop every listing kept for queries, so the next query lists the store afresh."""
        self._listings.clear()

    def _snapshot(self, database: str, measurement: str) -> BufferedRows:
        if self.buffered is None:
            return BufferedRows((), frozenset())
        return self.buffered.snapshot(database, measurement)

    # Schemas

    def columns(self, database: str, measurement: str) -> list[Column]:
        """Return the union of the columns of every file: ``time`` first, then alphabetical.

        Each file's columns are cached by path, size and modification time,
        so only files not read before are read.
        """
        buffered = self._snapshot(database, measurement)
        listed = self._listed(database, measurement, TimeRange(), buffered)
        return _union(self._file_columns(database, measurement, listed.chosen),
                      self._buffered_columns(buffered.schema))

    def columns_of(self, files: MeasurementFiles) -> list[Column]:
        """Return the column union of the measurement ``files`` was listed from, without listing it again."""
        schema = files.buffered.schema if files.buffered is not None else None
        return _union(self._file_columns(files.database, files.measurement, files.listed),
                      self._buffered_columns(schema))

    def file_columns(self, database: str, measurement: str) -> list[Column]:
        """Return the column union of the stored files alone, without buffered rows."""
        listed = self._listed(database, measurement, TimeRange(), self._snapshot(database, measurement))
        return self._file_columns(database, measurement, listed.chosen)

    def schemas_of(self, files: MeasurementFiles) -> dict[str, FileSchema]:
        """Return the columns of each chosen file of ``files``, by path, without listing again.

        A file removed since ``files`` was listed is left out. Only DELETE
        (of every row of the file), TRUNCATE, DROP and retention remove files,
        so its rows are gone too. A DELETE that rewrites a file keeps the old
        version for a grace period (see gateway/storage/file_versions.py).
        """
        by_path = self._schemas_of(files.database, files.measurement, files.listed).by_path
        return {info.path: by_path[info.path] for info in files.chosen if info.path in by_path}

    def _file_columns(self, database: str, measurement: str, files: list[ObjectInfo]) -> list[Column]:
        return self._schemas_of(database, measurement, files).union

    def _schemas_of(self, database: str, measurement: str, files: list[ObjectInfo]) -> _StoredSchemas:
        with self._lock:
            cached = self._schemas.get((database, measurement), _StoredSchemas(frozenset(), [], {}))
        if files is cached.files:
            return cached
        keys = frozenset(_key(info) for info in files)
        if keys == cached.keys:
            stored = replace(cached, files=files)
            with self._lock:
                self._schemas[(database, measurement)] = stored
            return stored
        try:
            by_path = self._read_new_schemas(cached, files)
        except FileGone:
            # A DELETE that emptied a file, or a retention run, removed it after
            # the listing above. The schemas are read from a fresh listing, and a
            # query that still names the file lists again when DuckDB misses it.
            for attempt in range(2, UNION_ATTEMPTS + 1):
                logger.info("a file of %s.%s was removed before its schema was read; listing again",
                            database, measurement)
                files = self._listed(database, measurement, TimeRange(),
                                     self._snapshot(database, measurement)).chosen
                keys = frozenset(_key(info) for info in files)
                try:
                    by_path = self._read_new_schemas(cached, files, again=attempt == UNION_ATTEMPTS)
                    break
                except FileGone:
                    continue
        listed_paths = {info.path for info in files}
        by_path = {path: schema for path, schema in by_path.items() if path in listed_paths}
        union: list[Column] = []
        for schema in dict.fromkeys(by_path[path] for path in sorted(by_path)):
            union = _union(union, list(schema))
        stored = _StoredSchemas(keys, union, by_path, files)
        with self._lock:
            self._schemas[(database, measurement)] = stored
        return stored

    def _read_new_schemas(self, cached: _StoredSchemas, files: list[ObjectInfo], *,
                          again: bool = False) -> dict[str, FileSchema]:
        """Return the schemas of ``cached`` updated with those of the files it has no key for, read now."""
        new_files = [info for info in files if _key(info) not in cached.keys]
        return {**cached.by_path, **read_file_schemas(self.engine, new_files, again=again)}

    def _buffered_columns(self, schema: pa.Schema | None) -> list[Column]:
        """Return the columns of buffered rows with the types DuckDB reads them as, cached per schema."""
        if schema is None:
            return []
        with self._lock:
            cached = self._buffer_schemas.get(schema)
        if cached is None:
            cursor = self.engine.cursor()
            try:
                relation = cursor.from_arrow(schema.empty_table())
                cached = [Column(name, str(kind))
                          for name, kind in zip(relation.columns, relation.types, strict=True)]
            finally:
                cursor.close()
            with self._lock:
                self._buffer_schemas[schema] = cached
        return cached

    # Storage access, with library errors translated once

    def _directories(self, prefix: str, cached: bool = False) -> list[str]:
        if cached:
            return self._listings.directories(prefix, lambda: self._directories(prefix))
        try:
            return self.backend.list_directories(prefix)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StorageError(f"listing {self.backend.description} failed: {error}") from error

    def _objects(self, prefix: str, cached: bool = False) -> list[ObjectInfo]:
        if cached:
            return self._listings.objects(prefix, lambda: self._objects(prefix))
        try:
            return [info for info in self.backend.list_objects(prefix) if info.path.endswith(".parquet")]
        except FileNotFoundError:
            return []
        except OSError as error:
            raise StorageError(f"listing {self.backend.description} failed: {error}") from error


def _key(info: ObjectInfo) -> tuple[str, int, float]:
    return (info.path, info.size, info.last_modified.timestamp())


def _union(first: list[Column], second: list[Column]) -> list[Column]:
    union = {column.name.lower(): column for column in first}
    for column in second:
        known = union.get(column.name.lower())
        if known is None:
            union[column.name.lower()] = column
        elif known.type != column.type:
            union[column.name.lower()] = Column(known.name, _wider(known.type, column.type))
    return sorted(union.values(), key=_column_order)


def _column_order(column: Column) -> tuple[int, str]:
    return (0 if column.name.lower() == TIME_COLUMN else 1, column.name)


_NUMERIC_RANK = {"TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4, "HUGEINT": 5,
                 "UTINYINT": 1, "USMALLINT": 2, "UINTEGER": 3, "UBIGINT": 5,
                 "FLOAT": 6, "DOUBLE": 7}


def _wider(first: str, second: str) -> str:
    """Return the type both columns are read as: the wider numeric type, else VARCHAR."""
    if first in _NUMERIC_RANK and second in _NUMERIC_RANK:
        return first if _NUMERIC_RANK[first] >= _NUMERIC_RANK[second] else second
    return "VARCHAR"
