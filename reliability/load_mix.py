"""The operations of the load run: TSBS reads, INSERT and COPY of new rows, DELETE of one host in an old hour.

Each client thread owns one connection, a ``random.Random`` and a row
generator of its own. Writes go after the loaded span, each client in a
time range of its own, and DELETEs go to the first hours of the span, so
writes and DELETEs never touch the same rows.
"""

from __future__ import annotations

import random
from datetime import timedelta

import psycopg

from bench.cpu_data import COLUMNS, CpuGenerator
from bench.tsbs_queries import QUERY_TYPES, DataSpan, generate, timestamp_literal

#: Operation kinds and their share of the operations.
KIND_WEIGHTS = {"read": 60, "insert": 15, "copy": 15, "delete": 10}
INSERT_ROWS = 10
COPY_ROWS = 200
#: DELETEs pick an hour among the first this many hours of the span.
DELETE_HOURS = 12
MEASUREMENT = "cpu"


class LoadClient:
    """One client of the load run: draws an operation kind and runs it on its connection."""

    def __init__(self, index: int, connection: psycopg.Connection, span: DataSpan, seed: int) -> None:
        self.connection = connection
        self.span = span
        self.chooser = random.Random(seed * 1000 + index)
        # Each client writes one host's rows, starting a day after the span plus one hour per client.
        start = span.end + timedelta(days=1, hours=index)
        self.generator = CpuGenerator(hosts=1, seed=seed + index, start=start)
        self._columns = ", ".join(COLUMNS)

    def next_kind(self) -> str:
        kinds = list(KIND_WEIGHTS)
        return self.chooser.choices(kinds, weights=[KIND_WEIGHTS[kind] for kind in kinds])[0]

    def run(self, kind: str) -> None:
        """Run one operation of ``kind``, raising on any error or unexpected command tag."""
        if kind == "read":
            self.connection.execute(generate(self.chooser.choice(QUERY_TYPES), self.span, self.chooser).sql).fetchall()
        elif kind == "insert":
            self._insert()
        elif kind == "copy":
            self._copy()
        else:
            self._delete()

    def _insert(self) -> None:
        rows = self.generator.rows(INSERT_ROWS)
        placeholders = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * len(rows))
        cursor = self.connection.execute(f"INSERT INTO {MEASUREMENT} ({self._columns}) VALUES {placeholders}",
                                         [value for row in rows for value in row])
        _expect(cursor.statusmessage, f"INSERT 0 {len(rows)}")

    def _copy(self) -> None:
        rows = self.generator.rows(COPY_ROWS)
        cursor = self.connection.cursor()
        with cursor.copy(f"COPY {MEASUREMENT} ({self._columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        _expect(cursor.statusmessage, f"COPY {len(rows)}")

    def _delete(self) -> None:
        hour = self.span.start + timedelta(hours=self.chooser.randrange(DELETE_HOURS))
        host = f"host_{self.chooser.randrange(self.span.hosts)}"
        cursor = self.connection.execute(
            f"DELETE FROM {MEASUREMENT} WHERE hostname = %s AND time >= {timestamp_literal(hour)} "
            f"AND time < {timestamp_literal(hour + timedelta(hours=1))}", [host])
        if not (cursor.statusmessage or "").startswith("DELETE "):
            raise RuntimeError(f"unexpected command tag {cursor.statusmessage!r} of a DELETE")


def _expect(tag: str | None, expected: str) -> None:
    if tag != expected:
        raise RuntimeError(f"unexpected command tag {tag!r}, expected {expected!r}")
