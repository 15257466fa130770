"""Column kinds and the rule for merging a write into a measurement's established columns.

A column's kind is integer, unsigned, float, boolean, string or timestamp
(with time zone). Any other type that INSERT can store (date, time,
timestamp without zone, blob, lists) is "other", because INSERT checks
those itself. An integer arriving in a float column is widened to float, and a
float arriving in an integer column makes the column float: no value is
ever truncated. Any other difference between the established kind and the
received one is a conflict that names the measurement, column and both
kinds.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import DatatypeMismatch

TIME_TYPE = pa.timestamp("us", tz="UTC")

#: The Arrow type each kind is buffered and stored as.
ARROW_TYPES = {"integer": pa.int64(), "unsigned": pa.uint64(), "float": pa.float64(),
               "boolean": pa.bool_(), "string": pa.string(), "timestamp": TIME_TYPE}

#: DuckDB's name of each stored Arrow type, for the catalog and the typed scans.
DUCKDB_NAMES = {pa.int64(): "BIGINT", pa.uint64(): "UBIGINT", pa.float64(): "DOUBLE",
                pa.bool_(): "BOOLEAN", pa.string(): "VARCHAR", TIME_TYPE: "TIMESTAMP WITH TIME ZONE"}

#: DuckDB's type name for each kind a buffered column can have.
KIND_TYPE_NAMES = {kind: DUCKDB_NAMES[arrow_type] for kind, arrow_type in ARROW_TYPES.items()}

_DUCKDB_KINDS = {"BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
                 "UTINYINT": "integer", "USMALLINT": "integer", "UINTEGER": "integer", "UBIGINT": "unsigned",
                 "DOUBLE": "float", "FLOAT": "float", "BOOLEAN": "boolean", "VARCHAR": "string",
                 "TIMESTAMP WITH TIME ZONE": "timestamp"}


def kind_of_duckdb(type_name: str) -> str:
    """Return the kind of a stored column from its DuckDB type name ("other" for anything else)."""
    return _DUCKDB_KINDS.get(type_name.upper(), "other")


def kind_of_arrow(data_type: pa.DataType) -> str:
    """Return the kind of an Arrow type ("null" for an all-NULL column, "other" for the rest)."""
    if pa.types.is_null(data_type):
        return "null"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_unsigned_integer(data_type) and data_type.bit_width == 64:
        return "unsigned"
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type):
        return "float"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_timestamp(data_type) and data_type.tz is not None:
        return "timestamp"
    return "other"


def merged_kind(measurement: str, column: str, established: str | None, received: str) -> str:
    """Return the column's kind after a value of kind ``received`` arrives; raise on a conflict."""
    if established is None or established == "null" or received == "null":
        return received if established in (None, "null") else established
    if established == received:
        return established
    if {established, received} == {"integer", "float"}:
        return "float"
    raise DatatypeMismatch(mismatch_message(measurement, column, established, received))


def mismatch_message(measurement: str, column: str, expected: str, received: str) -> str:
    return (f'column "{column}" of measurement "{measurement}" is of type {expected} '
            f"but the value is of type {received}")


def conform(table: pa.Table, kinds: dict[str, str]) -> pa.Table:
    """Cast each column of ``table`` to the Arrow type of its kind in ``kinds``."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        target = ARROW_TYPES.get(kinds.get(name, ""))
        if target is not None and column.type != target:
            column = pc.cast(column, target)
        columns.append(column)
    return pa.table(columns, names=table.column_names)
