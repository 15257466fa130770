"""Server-side cursors: DECLARE name CURSOR FOR query, FETCH [n | ALL] FROM name, CLOSE name | ALL.

psycopg's and psycopg2's named cursors and psqlODBC with UseDeclareFetch
(Tableau) read large results this way. Each cursor runs on its own DuckDB
connection, so its rows stream while the session runs other statements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from gateway.errors import GatewayError, SqlSyntaxError
from gateway.sql.parse import Word
from gateway.sql.results import Result


class InvalidCursorName(GatewayError):
    sqlstate = "34000"


class NoActiveTransaction(GatewayError):
    sqlstate = "25P01"


class DuplicateCursor(GatewayError):
    sqlstate = "42P03"


@dataclass
class DeclaredCursor:
    """An open cursor: its DuckDB connection, result schema and the batches not yet fetched."""

    connection: duckdb.DuckDBPyConnection
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    hold: bool = False
    pending: list[pa.RecordBatch] = field(default_factory=list)

    def fetch(self, count: int | None) -> pa.Table:
        """Return the next ``count`` rows (all remaining when None)."""
        fetched: list[pa.RecordBatch] = []
        remaining = count
        while remaining is None or remaining > 0:
            batch = self.pending.pop(0) if self.pending else next(self.batches, None)
            if batch is None:
                break
            if remaining is not None and batch.num_rows > remaining:
                self.pending.insert(0, batch.slice(remaining))
                batch = batch.slice(0, remaining)
            fetched.append(batch)
            if remaining is not None:
                remaining -= batch.num_rows
        return pa.Table.from_batches(fetched, schema=self.schema)

    def close(self) -> None:
        self.connection.close()


#: Runs the query text of a DECLARE on a new DuckDB connection; returns it with the result's schema and batches.
Opener = Callable[[str], tuple[duckdb.DuckDBPyConnection, pa.Schema, Iterator[pa.RecordBatch]]]


class Cursors:
    """The declared cursors of one session."""

    def __init__(self) -> None:
        self.open: dict[str, DeclaredCursor] = {}

    def declare(self, text: str, words: list[Word], opener: Opener, *, in_transaction: bool) -> Result:
        """Run ``DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR query``.

        A cursor without HOLD needs a transaction block and ends with it, as in PostgreSQL.
        """
        keywords = [word.upper for word in words]
        if len(words) < 4 or "CURSOR" not in keywords or "FOR" not in keywords:
            raise SqlSyntaxError("syntax error in DECLARE statement", hint="DECLARE name CURSOR FOR SELECT ...")
        if "BINARY" in keywords[: keywords.index("FOR")]:
            raise SqlSyntaxError("binary cursors are not supported", hint="DECLARE name CURSOR FOR SELECT ...")
        head = keywords[: keywords.index("FOR")]
        hold = "HOLD" in head and "WITHOUT" not in head
        if not hold and not in_transaction:
            raise NoActiveTransaction("DECLARE CURSOR can only be used in transaction blocks")
        name = words[1].text
        if name in self.open:
            raise DuplicateCursor(f'cursor "{name}" already exists')
        query = text[words[keywords.index("FOR")].end:]
        connection, schema, batches = opener(query)
        self.open[name] = DeclaredCursor(connection, schema, batches, hold)
        return Result(tag="DECLARE CURSOR")

    def fetch(self, words: list[Word]) -> Result:
        """Run ``FETCH [NEXT | FORWARD [n | ALL] | n | ALL] [FROM | IN] name``."""
        if len(words) < 2:
            raise SqlSyntaxError("syntax error in FETCH statement", hint="FETCH 100 FROM name")
        cursor = self._cursor(words[-1].text)
        count = _fetch_count([word.upper for word in words[1:-1] if word.upper not in ("FROM", "IN")])
        table = cursor.fetch(count)
        return Result(tag="FETCH", schema=cursor.schema, batches=iter(table.to_batches()))

    def close(self, words: list[Word]) -> Result:
        """Run ``CLOSE name`` or ``CLOSE ALL``."""
        if len(words) == 2 and words[1].upper == "ALL" and not words[1].quoted:
            self.close_all()
            return Result(tag="CLOSE CURSOR ALL")
        if len(words) != 2:
            raise SqlSyntaxError("syntax error in CLOSE statement", hint="CLOSE name")
        self._cursor(words[1].text).close()
        del self.open[words[1].text]
        return Result(tag="CLOSE CURSOR")

    def end_transaction(self) -> None:
        """Close the cursors declared without HOLD, at COMMIT or ROLLBACK."""
        for name in [name for name, cursor in self.open.items() if not cursor.hold]:
            self.open.pop(name).close()

    def close_all(self) -> None:
        for cursor in self.open.values():
            cursor.close()
        self.open.clear()

    def _cursor(self, name: str) -> DeclaredCursor:
        cursor = self.open.get(name)
        if cursor is None:
            raise InvalidCursorName(f'cursor "{name}" does not exist')
        return cursor


def _fetch_count(direction: list[str]) -> int | None:
    if not direction or direction in (["NEXT"], ["FORWARD"]):
        return 1
    if direction[-1] == "ALL":
        return None
    try:
        count = int(direction[-1])
    except ValueError as error:
        raise SqlSyntaxError(f"FETCH {' '.join(direction)} is not supported",
                             hint="FETCH n, FETCH FORWARD n or FETCH ALL") from error
    if count < 0:
        raise SqlSyntaxError("backward FETCH is not supported", hint="cursors here move forward only")
    return count
