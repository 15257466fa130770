"""Whole-batch DataRow encoding gives exactly the bytes of the value-by-value reference encoders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from gateway.server import messages as msg
from gateway.server.data_rows import data_rows
from gateway.server.pgtypes import encode_binary, encode_text, pg_type

UTC = dt.UTC


def _reference(batch: pa.RecordBatch, codes: list[int], time_zone: str = "UTC") -> bytes:
    kinds = [pg_type(column.type) for column in batch.columns]
    columns = [encode_binary(column, kind) if code == 1 else encode_text(column, kind, time_zone)
               for column, kind, code in zip(batch.columns, kinds, codes, strict=True)]
    return b"".join(msg.data_row(list(row)) for row in zip(*columns, strict=True))


def _encoded(batch: pa.RecordBatch, codes: list[int], time_zone: str = "UTC") -> bytes:
    kinds = [pg_type(column.type) for column in batch.columns]
    encoded = data_rows(batch, kinds, codes, time_zone)
    assert encoded.count == batch.num_rows
    whole = bytes(encoded.data)
    assert b"".join(bytes(encoded.rows(i, i + 1)) for i in range(encoded.count)) == whole
    return whole


def _floats(rng: np.random.Generator, count: int) -> list[float | None]:
    values: list[float | None] = [float(value) for value in np.concatenate([
        rng.random(count) * 100, np.round(rng.random(count) * 100, 2), np.exp(rng.uniform(-30, 60, count)),
        -np.exp(rng.uniform(-30, 60, count))])]
    values += [0.0, -0.0, 1e-4, 9.99e-5, 1e15, 999999999999999.9, float("inf"), float("-inf"), float("nan"),
               5e-324, 1.7976931348623157e308, None]
    return values


def _batch(rng: np.random.Generator) -> pa.RecordBatch:
    floats = _floats(rng, 500)
    count = len(floats)
    micros = rng.integers(-2_000_000_000_000_000, 4_000_000_000_000_000, count)
    micros[:5] = [0, 1, -1, 1_500_000, 1_000_000]
    times = [None if i % 17 == 3 else int(value) for i, value in enumerate(micros)]
    return pa.record_batch({
        "time": pa.array(times, pa.timestamp("us", tz="UTC")),
        "local": pa.array(times, pa.timestamp("us")),
        "host": pa.array([None if i % 13 == 0 else f"host-{i}é'\"," for i in range(count)], pa.string()),
        "small": pa.array([None if i % 11 == 0 else int(i % 30000) - 15000 for i in range(count)], pa.int16()),
        "count": pa.array([None if i % 7 == 0 else int(value) for i, value in
                           enumerate(rng.integers(-2**62, 2**62, count))], pa.int64()),
        "ratio": pa.array(floats, pa.float64()),
        "single": pa.array(np.float32(rng.random(count) * 1000), pa.float32()),
        "flag": pa.array([None if i % 5 == 0 else bool(i % 2) for i in range(count)], pa.bool_()),
        "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(count)], pa.date32()),
        "price": pa.array([Decimal(i) / 8 for i in range(count)], pa.decimal128(18, 3)),
    })


@pytest.mark.parametrize("seed", range(3))
def test_text_rows_match_the_reference(seed: int) -> None:
    batch = _batch(np.random.default_rng(seed))
    assert _encoded(batch, [0] * batch.num_columns) == _reference(batch, [0] * batch.num_columns)


def test_binary_rows_match_the_reference() -> None:
    batch = _batch(np.random.default_rng(7)).drop_columns(["ratio", "single"])
    # NaN and infinities also in binary format:
    floats = pa.array([1.5, float("nan"), float("-inf"), None] * (batch.num_rows // 4)
                      + [0.0] * (batch.num_rows % 4), pa.float64())
    batch = batch.append_column("ratio", floats)
    codes = [1] * batch.num_columns
    assert _encoded(batch, codes) == _reference(batch, codes)


def test_mixed_formats_and_other_zones_match_the_reference() -> None:
    batch = _batch(np.random.default_rng(9))
    codes = [index % 2 for index in range(batch.num_columns)]
    assert _encoded(batch, codes, "Europe/Berlin") == _reference(batch, codes, "Europe/Berlin")


def test_spellings_of_known_values() -> None:
    batch = pa.record_batch({
        "time": pa.array([dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
                          dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "value": pa.array([1.0, 0.1 + 0.2, 1e16], pa.float64()),
    })
    assert _encoded(batch, [0, 0]) == b"".join(msg.data_row([time, value]) for time, value in [
        (b"2024-01-01 00:00:00+00", b"1"),
        (b"2024-01-01 00:00:00.5+00", b"0.30000000000000004"),
        (b"1969-12-31 23:59:59.999999+00", b"1e+16"),
    ])


def test_empty_batch_and_null_only_columns() -> None:
    empty = pa.record_batch({"a": pa.array([], pa.int64())})
    assert _encoded(empty, [0]) == b""
    nulls = pa.record_batch({"a": pa.array([None, None], pa.int64()), "b": pa.array([None, None], pa.null())})
    assert _encoded(nulls, [0, 0]) == msg.data_row([None, None]) * 2
