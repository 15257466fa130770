"""A client that receives a large result and discards it, in bounded memory on the client side.

psql keeps a whole result in memory before printing it, which for
10,000,000 rows is gigabytes on the client. This client uses libpq's
chunked-rows mode through psycopg's low-level ``pq`` interface: results
arrive in chunks of at most CHUNK_ROWS rows, and are counted and freed
without converting any value to Python.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import pq

CHUNK_ROWS = 10_000


class DrainFailed(RuntimeError):
    """The server returned an error for the query."""


def drain(conninfo: str, query: str) -> tuple[int, float]:
    """Run ``query`` and return (rows received, wall seconds from sending it to the last row).

    Raises DrainFailed when the server returns an error.
    """
    with psycopg.connect(conninfo, autocommit=True) as connection:
        pgconn = connection.pgconn
        # psycopg puts libpq in non-blocking mode; blocking mode makes send_query send the whole query.
        pgconn.nonblocking = 0
        started = time.perf_counter()
        pgconn.send_query(query.encode())
        pgconn.set_chunked_rows_mode(CHUNK_ROWS)
        rows = 0
        error = ""
        while (result := pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.TUPLES_CHUNK or result.status == pq.ExecStatus.TUPLES_OK:
                rows += result.ntuples
            elif result.status == pq.ExecStatus.FATAL_ERROR:
                error = (result.error_message or b"").decode(errors="replace").strip()
            result.clear()
        elapsed = time.perf_counter() - started
    if error:
        raise DrainFailed(f"query failed: {error}")
    return rows, elapsed
