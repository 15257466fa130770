"""``--insert-max-rows``: an INSERT over the limit fails with 54000 and stores nothing.

Each test starts a real ``lakegate serve`` with ``--insert-max-rows 5`` on a
fresh local store, stores three rows, and checks that a rejected INSERT
leaves the rows and the store's files as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess
from tests.e2e.store_files import data_hashes
from tests.emulators import StorageTarget

MAX_ROWS = 5
SEED_ROWS = 3


def _literal_rows(count: int, first: int = 100) -> str:
    return ", ".join(f"('2024-05-01T00:{minute:02d}:00Z', {first + minute})" for minute in range(count))


def _expression_rows(count: int, first: int = 100) -> str:
    # A function call makes the statement miss the literal-only fast path, so DuckDB evaluates it.
    return ", ".join(f"('2024-05-01T00:{minute:02d}:00Z'::timestamptz, abs({first + minute}))"
                     for minute in range(count))


@pytest.fixture
def limited(gateway_launcher: Callable[..., GatewayProcess]) -> Iterator[psycopg.Connection]:
    """A connection to a gateway started with ``--insert-max-rows 5``, with three rows stored in ``m``."""
    gateway = gateway_launcher("--insert-max-rows", str(MAX_ROWS))
    with psycopg.connect(gateway.dsn + " dbname=limits", autocommit=True) as connection:
        connection.execute(f"INSERT INTO m (time, v) VALUES {_literal_rows(SEED_ROWS, first=0)}")
        connection.execute("CHECKPOINT")
        yield connection


def _rows(connection: psycopg.Connection) -> list[tuple[object, ...]]:
    return connection.execute("SELECT v FROM m ORDER BY v").fetchall()


def _assert_limit_error(connection: psycopg.Connection, statement: str, params: list[object] | None = None) -> None:
    with pytest.raises(psycopg.Error) as caught:
        connection.execute(statement, params)
    assert caught.value.sqlstate == "54000", str(caught.value)
    assert f"more than --insert-max-rows allows ({MAX_ROWS})" in str(caught.value)


REJECTED = {
    "literal values": f"INSERT INTO m (time, v) VALUES {_literal_rows(MAX_ROWS + 1)}",
    "expression values": f"INSERT INTO m (time, v) VALUES {_expression_rows(MAX_ROWS + 1)}",
    "select series": "INSERT INTO m (time, v) SELECT '2024-05-01'::timestamptz + i * INTERVAL '1 minute', i "
                     f"FROM generate_series(1, {MAX_ROWS + 1}) AS s(i)",
    "select large series": "INSERT INTO m (time, v) SELECT '2024-05-01'::timestamptz + i * INTERVAL '1 second', i "
                           "FROM generate_series(1, 10000000) AS s(i)",
    "select from measurement": "INSERT INTO m (time, v) SELECT time + INTERVAL '1 day', v FROM m "
                               "UNION ALL SELECT time + INTERVAL '2 days', v FROM m",
    "new measurement": f"INSERT INTO other (time, v) VALUES {_literal_rows(MAX_ROWS + 1)}",
}


@pytest.mark.parametrize("statement", REJECTED.values(), ids=REJECTED.keys())
def test_insert_over_limit_rejected(limited: psycopg.Connection, local_storage_url: StorageTarget,
                                    statement: str) -> None:
    before_rows = _rows(limited)
    before_files = data_hashes(local_storage_url)

    _assert_limit_error(limited, statement)
    limited.execute("CHECKPOINT")

    assert _rows(limited) == before_rows
    assert data_hashes(local_storage_url) == before_files
    assert limited.execute("SHOW TABLES").fetchall() == [("m",)]


def test_insert_with_parameters_over_limit(limited: psycopg.Connection) -> None:
    placeholders = ", ".join(["(%s::timestamptz, %s)"] * (MAX_ROWS + 1))
    params: list[object] = []
    for minute in range(MAX_ROWS + 1):
        params += [f"2024-05-01T00:{minute:02d}:00Z", 100 + minute]

    _assert_limit_error(limited, f"INSERT INTO m (time, v) VALUES {placeholders}", params)

    assert _rows(limited) == [(0,), (1,), (2,)]


def test_insert_at_limit_accepted(limited: psycopg.Connection) -> None:
    literal = limited.execute(f"INSERT INTO m (time, v) VALUES {_literal_rows(MAX_ROWS, first=10)}")
    assert literal.statusmessage == f"INSERT 0 {MAX_ROWS}"

    selected = limited.execute("INSERT INTO m (time, v) SELECT '2024-06-01'::timestamptz + i * INTERVAL '1 minute', i "
                               f"FROM generate_series(1, {MAX_ROWS}) AS s(i)")
    assert selected.statusmessage == f"INSERT 0 {MAX_ROWS}"

    assert limited.execute("SELECT count(*) FROM m").fetchone() == (SEED_ROWS + 2 * MAX_ROWS,)


def test_rejected_insert_between_accepted_ones(limited: psycopg.Connection) -> None:
    """A rejected INSERT between two accepted ones changes neither of them."""
    limited.execute(f"INSERT INTO m (time, v) VALUES {_literal_rows(1, first=50)}")
    _assert_limit_error(limited, f"INSERT INTO m (time, v) VALUES {_expression_rows(MAX_ROWS + 1, first=60)}")
    limited.execute("INSERT INTO m (time, v) VALUES ('2024-05-01T01:00:00Z', 70)")

    assert _rows(limited) == [(0,), (1,), (2,), (50,), (70,)]


def test_copy_from_stdin_not_limited(limited: psycopg.Connection) -> None:
    """The limit applies to INSERT only: COPY FROM STDIN may send more rows in one statement."""
    with limited.cursor() as cursor, cursor.copy("COPY m (time, v) FROM STDIN") as copy:
        for minute in range(MAX_ROWS + 2):
            copy.write_row((f"2024-07-01T00:{minute:02d}:00Z", minute))

    assert limited.execute("SELECT count(*) FROM m").fetchone() == (SEED_ROWS + MAX_ROWS + 2,)
