"""SHOW DATABASES, SHOW TABLES / MEASUREMENTS [FROM db] and SHOW COLUMNS FROM [db.]m."""

from __future__ import annotations

from gateway.errors import InvalidCatalogName, SqlSyntaxError
from gateway.sql.measurements import Measurements
from gateway.sql.parse import Word
from gateway.sql.results import Result, table_result, text_table
from gateway.storage import layout

STORE_COMMANDS = {"DATABASES", "TABLES", "MEASUREMENTS", "COLUMNS"}


def is_store_show(words: list[Word]) -> bool:
    """Tell whether a SHOW statement lists the store rather than a setting."""
    return len(words) >= 2 and words[0].upper == "SHOW" and words[1].upper in STORE_COMMANDS \
        and not words[1].quoted


def show(measurements: Measurements, database: str, words: list[Word]) -> Result:
    """Run one store SHOW statement given as words (the first is SHOW)."""
    kind = words[1].upper
    rest = words[2:]
    if kind == "DATABASES":
        _expect_end(rest, "SHOW DATABASES")
        return _names(measurements.databases())
    if kind in ("TABLES", "MEASUREMENTS"):
        target = database
        if rest:
            if rest[0].upper not in ("FROM", "IN") or len(rest) != 2:
                raise _usage(f"SHOW {kind} [FROM database]")
            target = layout.validate_name(rest[1].text, "database")
            _require_database(measurements, target)
        return _names(measurements.measurements(target))
    return _columns(measurements, database, rest)


def _columns(measurements: Measurements, database: str, rest: list[Word]) -> Result:
    usage = "SHOW COLUMNS FROM [database.]measurement"
    if len(rest) not in (2, 4) or rest[0].upper not in ("FROM", "IN"):
        raise _usage(usage)
    if len(rest) == 4:
        if rest[2].text != ".":
            raise _usage(usage)
        database = layout.validate_name(rest[1].text, "database")
    name = layout.validate_name(rest[-1].text, "measurement")
    stored = measurements.resolve(database, name)
    columns = measurements.columns(database, stored)
    rows: list[list[str | None]] = [[column.name, column.type] for column in columns]
    return table_result("SHOW", text_table(["column_name", "data_type"], rows))


def _names(names: list[str]) -> Result:
    return table_result("SHOW", text_table(["name"], [[name] for name in names]))


def _require_database(measurements: Measurements, database: str) -> None:
    if not measurements.database_exists(database):
        raise InvalidCatalogName(
            f'database "{database}" does not exist', hint="SHOW DATABASES lists the databases"
        )


def _expect_end(rest: list[Word], usage: str) -> None:
    if rest:
        raise _usage(usage)


def _usage(form: str) -> SqlSyntaxError:
    return SqlSyntaxError("syntax error in SHOW statement", hint=f"expected {form}")
