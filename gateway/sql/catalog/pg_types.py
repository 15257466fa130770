"""The PostgreSQL 15 types the catalog presents: OIDs, storage attributes and display names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TypeRow:
    """One pg_type row of a base type; its array type is derived from it."""

    oid: int
    name: str
    length: int
    by_value: bool
    category: str
    array_oid: int
    align: str
    storage: str
    display: str  # what format_type() returns
    io_prefix: str = ""


BASE_TYPES = [
    TypeRow(16, "bool", 1, True, "B", 1000, "c", "p", "boolean", "bool"),
    TypeRow(17, "bytea", -1, False, "U", 1001, "i", "x", "bytea", "bytea"),
    TypeRow(18, "char", 1, True, "Z", 1002, "c", "p", '"char"', "char"),
    TypeRow(19, "name", 64, False, "S", 1003, "c", "p", "name", "name"),
    TypeRow(20, "int8", 8, True, "N", 1016, "d", "p", "bigint", "int8"),
    TypeRow(21, "int2", 2, True, "N", 1005, "s", "p", "smallint", "int2"),
    TypeRow(22, "int2vector", -1, False, "A", 1006, "i", "p", "int2vector", "int2vector"),
    TypeRow(23, "int4", 4, True, "N", 1007, "i", "p", "integer", "int4"),
    TypeRow(24, "regproc", 4, True, "N", 1008, "i", "p", "regproc", "regproc"),
    TypeRow(25, "text", -1, False, "S", 1009, "i", "x", "text", "text"),
    TypeRow(26, "oid", 4, True, "N", 1028, "i", "p", "oid", "oid"),
    TypeRow(30, "oidvector", -1, False, "A", 1013, "i", "p", "oidvector", "oidvector"),
    TypeRow(114, "json", -1, False, "U", 199, "i", "x", "json", "json"),
    TypeRow(700, "float4", 4, True, "N", 1021, "i", "p", "real", "float4"),
    TypeRow(701, "float8", 8, True, "N", 1022, "d", "p", "double precision", "float8"),
    TypeRow(1042, "bpchar", -1, False, "S", 1014, "i", "x", "character", "bpchar"),
    TypeRow(1043, "varchar", -1, False, "S", 1015, "i", "x", "character varying", "varchar"),
    TypeRow(1082, "date", 4, True, "D", 1182, "i", "p", "date", "date"),
    TypeRow(1083, "time", 8, True, "D", 1183, "d", "p", "time without time zone", "time"),
    TypeRow(1114, "timestamp", 8, True, "D", 1115, "d", "p", "timestamp without time zone", "timestamp"),
    TypeRow(1184, "timestamptz", 8, True, "D", 1185, "d", "p", "timestamp with time zone", "timestamptz"),
    TypeRow(1186, "interval", 16, False, "T", 1187, "d", "p", "interval", "interval"),
    TypeRow(1266, "timetz", 12, False, "D", 1270, "d", "p", "time with time zone", "timetz"),
    TypeRow(1700, "numeric", -1, False, "N", 1231, "i", "m", "numeric", "numeric"),
    TypeRow(2205, "regclass", 4, True, "N", 2210, "i", "p", "regclass", "regclass"),
    TypeRow(2206, "regtype", 4, True, "N", 2211, "i", "p", "regtype", "regtype"),
    TypeRow(2950, "uuid", 16, False, "U", 2951, "c", "p", "uuid", "uuid"),
    TypeRow(3802, "jsonb", -1, False, "U", 3807, "i", "x", "jsonb", "jsonb"),
]

# (oid, name, length, by value) of pseudo-types clients look up by name.
PSEUDO_TYPES = [(705, "unknown", -2, False), (2249, "record", -1, False), (2278, "void", 4, True),
                (2276, "any", 4, True), (2277, "anyarray", -1, False)]

PG_CATALOG_NAMESPACE = 11


def type_rows() -> list[tuple[object, ...]]:
    """Return pg_type rows: (oid, typname, typlen, typbyval, typtype, typcategory, typelem,
    typarray, typinput, typoutput, typreceive, typsend, typalign, typstorage, display)."""
    rows: list[tuple[object, ...]] = []
    for row in BASE_TYPES:
        prefix = row.io_prefix or row.name
        rows.append((row.oid, row.name, row.length, row.by_value, "b", row.category, 0, row.array_oid,
                     f"{prefix}in", f"{prefix}out", f"{prefix}recv", f"{prefix}send", row.align,
                     row.storage, row.display))
        rows.append((row.array_oid, "_" + row.name, -1, False, "b", "A", row.oid, 0, "array_in",
                     "array_out", "array_recv", "array_send", "d" if row.align == "d" else "i", "x",
                     row.display + "[]"))
    for oid, name, length, by_value in PSEUDO_TYPES:
        rows.append((oid, name, length, by_value, "p", "P", 0, 0, f"{name}_in", f"{name}_out", "-", "-",
                     "i", "p", name))
    return rows


# DuckDB column types and the PostgreSQL type OID each is presented as.
DUCKDB_TYPE_OIDS = {
    "BOOLEAN": 16, "TINYINT": 21, "SMALLINT": 21, "INTEGER": 23, "BIGINT": 20, "HUGEINT": 1700,
    "UTINYINT": 21, "USMALLINT": 23, "UINTEGER": 20, "UBIGINT": 1700, "UHUGEINT": 1700, "FLOAT": 700,
    "DOUBLE": 701, "VARCHAR": 25, "BLOB": 17, "DATE": 1082, "TIME": 1083, "TIMESTAMP": 1114,
    "TIMESTAMP WITH TIME ZONE": 1184, "INTERVAL": 1186, "UUID": 2950, "JSON": 114,
    "TIME WITH TIME ZONE": 1266, "TIMESTAMP_S": 1114, "TIMESTAMP_MS": 1114, "TIMESTAMP_NS": 1114,
}
