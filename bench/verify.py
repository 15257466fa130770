"""Checks after every load: the exact row count, and the column types the gateway chose."""

from __future__ import annotations

import psycopg
from psycopg import sql

from bench.cpu_data import FIELDS, TAGS

#: The type each cpu column has in PostgreSQL's table, spelled as the gateway's SHOW COLUMNS spells it.
EXPECTED_TYPES = {"time": "TIMESTAMP WITH TIME ZONE", **dict.fromkeys(TAGS, "VARCHAR"),
                  **dict.fromkeys(FIELDS, "DOUBLE")}


class RowCountMismatch(RuntimeError):
    """A load reported success but ``SELECT count(*)`` does not return the rows that were sent."""


def check_row_count(conninfo: str, table: str, expected: int) -> None:
    """Raise RowCountMismatch unless ``SELECT count(*) FROM table`` returns ``expected``."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    counted = row[0] if row else None
    if counted != expected:
        raise RowCountMismatch(f"{table} has {counted} rows after a load of {expected} rows ({conninfo})")


def type_differences(conninfo: str, measurement: str) -> str:
    """Return the gateway's column types that differ from ``EXPECTED_TYPES`` as text, or ``""``.

    The gateway infers the types of a new measurement from the first load,
    so the same rows may be stored with other types depending on how they
    were sent.
    """
    with psycopg.connect(conninfo, autocommit=True) as connection:
        statement = sql.SQL("SHOW COLUMNS FROM {}").format(sql.Identifier(measurement))
        stored: dict[str, str] = dict(connection.execute(statement).fetchall())
    differences = [f"{name} {stored.get(name, 'missing')}" for name, kind in EXPECTED_TYPES.items()
                   if stored.get(name) != kind]
    return "stored " + ", ".join(differences) if differences else ""
