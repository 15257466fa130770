"""pandas.read_sql and read_sql_table through SQLAlchemy, against the gateway and PostgreSQL.

``read_sql`` with a query string first calls the dialect's ``has_table``
with the whole query as the table name, then runs the query. The two servers must give equal
DataFrames: the same columns, dtypes and values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.clients.servers import COLUMNS, ROWS, Server, sqlalchemy_engines


@pytest.fixture(params=["psycopg", "psycopg2"])
def engines(request: pytest.FixtureRequest, gateway: Server, oracle: Server) -> Iterator[dict[str, sa.Engine]]:
    with sqlalchemy_engines(request.param, gateway, oracle) as built:
        yield built


def test_read_sql_frames_equal(engines: dict[str, sa.Engine]) -> None:
    query = "SELECT time, host, samples, usage, healthy FROM m ORDER BY time"
    frames = {name: pd.read_sql(query, engine) for name, engine in engines.items()}

    pd.testing.assert_frame_equal(frames["gateway"], frames["postgresql"])
    frame = frames["gateway"]
    assert list(frame.columns) == ["time", "host", "samples", "usage", "healthy"]
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert frame["time"].tolist() == [pd.Timestamp(row[0]) for row in ROWS]
    assert frame["usage"].tolist()[:2] == [0.5, -1.5e20]
    assert frame["samples"].tolist()[:2] == [42, -7]


def test_read_sql_all_columns(engines: dict[str, sa.Engine]) -> None:
    frames = {name: pd.read_sql("SELECT * FROM m ORDER BY time", engine) for name, engine in engines.items()}
    pd.testing.assert_frame_equal(frames["gateway"], frames["postgresql"])
    assert list(frames["gateway"].columns) == list(COLUMNS)


def test_read_sql_with_params(engines: dict[str, sa.Engine]) -> None:
    query = sa.text("SELECT host, samples FROM m WHERE time >= :since AND samples < :limit ORDER BY time")
    params = {"since": datetime(2024, 1, 1, tzinfo=UTC), "limit": 100}
    frames = {name: pd.read_sql(query, engine, params=params) for name, engine in engines.items()}

    pd.testing.assert_frame_equal(frames["gateway"], frames["postgresql"])
    assert frames["gateway"].to_dict("records") == [
        {"host": "alpha", "samples": 42}, {"host": 'beta, "quoted"', "samples": -7},
    ]


def test_read_sql_chunks(engines: dict[str, sa.Engine]) -> None:
    for name, engine in engines.items():
        chunks = list(pd.read_sql("SELECT time FROM m ORDER BY time", engine, chunksize=2))
        assert [len(chunk) for chunk in chunks] == [2, 1], name


def test_read_sql_table(gateway: Server, oracle: Server) -> None:
    # NOTE: psycopg2 only, because with psycopg 3 the gateway fails
    # SQLAlchemy's table-options query, which binds current_setting($1) on
    # the server (42601).
    with sqlalchemy_engines("psycopg2", gateway, oracle) as engines:
        frames = {name: pd.read_sql_table("m", engine) for name, engine in engines.items()}
    pd.testing.assert_frame_equal(frames["gateway"], frames["postgresql"])
    assert frames["gateway"].shape == (len(ROWS), len(COLUMNS))
