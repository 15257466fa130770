"""PostgreSQL text and binary spellings of values."""

from decimal import Decimal

import pyarrow as pa
import pytest

from gateway.server import pgtypes


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.1, "0.1"), (100.0, "100"), (1e15, "1e+15"), (1e14, "100000000000000"), (1.5e-7, "1.5e-07"),
     (0.0001, "0.0001"), (1e-05, "1e-05"), (-2.5, "-2.5"), (1.7976931348623157e308, "1.7976931348623157e+308"),
     (0.0, "0"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (float("nan"), "NaN"),
     (123456789012345678.0, "1.2345678901234568e+17")],
)
def test_float8_text(value: float, expected: str) -> None:
    assert pgtypes.format_float8(value) == expected


def test_float4_text_is_shortest() -> None:
    assert pgtypes.format_float4(0.1) == "0.1"
    assert pgtypes.format_float4(3.4028234663852886e38) == "3.4028235e+38"


@pytest.mark.parametrize(
    ("months", "days", "micros", "expected"),
    [(14, 3, 14_706_500_000, "1 year 2 mons 3 days 04:05:06.5"), (0, 0, 0, "00:00:00"),
     (1, 1, 0, "1 mon 1 day"), (-14, -3, -1_000_000, "-1 years -2 mons -3 days -00:00:01")],
)
def test_interval_text(months: int, days: int, micros: int, expected: str) -> None:
    assert pgtypes.format_interval(months, days, micros) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12345.678", "0003000100000003000109291a7c"), ("0.0001", "0001ffff000000040001"),
     ("-1", "00010000400000000001"), ("0", "0000000000000000"), ("1.5", "000200000000000100011388")],
)
def test_numeric_binary(value: str, expected: str) -> None:
    assert pgtypes.numeric_binary(Decimal(value)).hex() == expected


def test_timestamptz_text_trims_fraction() -> None:
    array = pa.array([0, 1_500_000, None, 86_400_000_123], pa.timestamp("us", tz="UTC"))
    assert pgtypes.encode_text(array, pgtypes.TIMESTAMPTZ) == [
        b"1970-01-01 00:00:00+00", b"1970-01-01 00:00:01.5+00", None, b"1970-01-02 00:00:00.000123+00",
    ]


def test_oids_of_arrow_types() -> None:
    assert pgtypes.pg_type(pa.int64()).oid == 20
    assert pgtypes.pg_type(pa.int32()).oid == 23
    assert pgtypes.pg_type(pa.float64()).oid == 701
    assert pgtypes.pg_type(pa.string()).oid == 25
    assert pgtypes.pg_type(pa.timestamp("us", tz="UTC")).oid == 1184
    assert pgtypes.pg_type(pa.timestamp("us")).oid == 1114
    assert pgtypes.pg_type(pa.list_(pa.int64())).oid == 1016
    assert pgtypes.pg_type(pa.bool_()).oid == 16
