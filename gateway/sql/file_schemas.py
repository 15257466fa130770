"""The columns of each Parquet file, read from the files' footers.

A scan reads files of one schema with a single ``read_parquet`` and no
``union_by_name``, which makes DuckDB open every file's footer when it
binds the query. To know which files share a schema, each file's columns
are read once. ``parquet_schema()`` gives the raw Parquet schema of every
file in one call. Files of one raw schema are read with the same DuckDB
types, so one DESCRIBE of one of them gives the types of all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from gateway.engine import Engine, quote_literal
from gateway.errors import StorageError
from gateway.sql.duckdb_errors import names_missing_file
from gateway.storage.backend import ObjectInfo


@dataclass(frozen=True)
class Column:
    """A column of a measurement: name and DuckDB type."""

    name: str
    type: str


#: The columns of one file, in the file's order.
FileSchema = tuple[Column, ...]


class FileGone(Exception):
    """A listed file no longer existed when DuckDB read its footer."""


#: parquet_schema() columns that decide how DuckDB reads a Parquet column.
_RAW_FIELDS = ("name", "type", "type_length", "repetition_type", "num_children", "converted_type", "scale",
               "precision", "logical_type", "duckdb_type")


def read_file_schemas(engine: Engine, files: Sequence[ObjectInfo], *, again: bool = False) -> dict[str, FileSchema]:
    """Return the columns of each file, by path.

    Raises FileGone if a file is missing, unless it is read ``again``, and
    StorageError when a footer cannot be read.
    """
    if not files:
        return {}
    paths_by_uri = {engine.backend.uri(info.path): info.path for info in files}
    uris = ", ".join(quote_literal(uri) for uri in paths_by_uri)
    # column_id 0 is the schema's root, whose name depends on the writer.
    raw_rows = _run(engine, f"SELECT file_name, {', '.join(_RAW_FIELDS)} FROM parquet_schema([{uris}]) "
                            "WHERE column_id > 0 ORDER BY file_name, column_id", f"{len(files)} files", again)
    raw_by_uri: dict[str, list[tuple[object, ...]]] = {uri: [] for uri in paths_by_uri}
    for row in raw_rows:
        raw_by_uri[str(row[0])].append(tuple(row[1:]))

    schemas_by_raw: dict[tuple[tuple[object, ...], ...], FileSchema] = {}
    result: dict[str, FileSchema] = {}
    for uri, raw in raw_by_uri.items():
        key = tuple(raw)
        schema = schemas_by_raw.get(key)
        if schema is None:
            rows = _run(engine, f"DESCRIBE SELECT * FROM read_parquet({quote_literal(uri)})", uri, again)
            schema = tuple(Column(str(row[0]), str(row[1])) for row in rows)
            schemas_by_raw[key] = schema
        result[paths_by_uri[uri]] = schema
    return result


def _run(engine: Engine, sql: str, subject: str, again: bool) -> list[tuple[object, ...]]:
    cursor = engine.cursor()
    try:
        return cursor.execute(sql).fetchall()
    except duckdb.Error as error:
        if names_missing_file(error) and not again:
            raise FileGone() from error
        raise StorageError(f"could not read the Parquet schema of {subject}: {error}") from error
    finally:
        cursor.close()
