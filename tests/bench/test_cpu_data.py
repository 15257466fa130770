"""The benchmark data generator: exact row counts, determinism, and CSV and line protocol that parse."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from bench.cpu_data import (
    COLUMNS,
    FIELDS,
    START,
    TAGS,
    CpuGenerator,
    CpuRow,
    batches,
    csv_text,
    line_protocol,
)
from gateway.ingest.lineprotocol import parse_lines

ROWS = 250
HOSTS = 100


def test_generator_returns_exact_row_count() -> None:
    generator = CpuGenerator(hosts=HOSTS)
    assert len(generator.rows(ROWS)) == ROWS
    assert len(generator.rows(1)) == 1
    assert generator.rows(0) == []


def test_generator_is_deterministic_across_chunks() -> None:
    whole = CpuGenerator(hosts=HOSTS, seed=7).rows(ROWS)
    chunked = CpuGenerator(hosts=HOSTS, seed=7)
    assert chunked.rows(120) + chunked.rows(ROWS - 120) == whole
    assert CpuGenerator(hosts=HOSTS, seed=8).rows(ROWS) != whole


def test_rows_step_every_ten_seconds_per_host() -> None:
    rows = CpuGenerator(hosts=HOSTS).rows(ROWS)
    assert rows[0][:2] == (START, "host_0")
    assert rows[HOSTS - 1][:2] == (START, f"host_{HOSTS - 1}")
    assert rows[HOSTS][:2] == (START + timedelta(seconds=10), "host_0")
    assert rows[ROWS - 1][:2] == (START + timedelta(seconds=20), "host_49")
    assert all(len(row) == len(COLUMNS) for row in rows)


def test_usage_fields_stay_between_0_and_100() -> None:
    rows = CpuGenerator(hosts=3).rows(3000)
    values = [value for row in rows for value in row[1 + len(TAGS):] if isinstance(value, float)]
    assert len(values) == 3000 * len(FIELDS)
    assert min(values) >= 0.0
    assert max(values) <= 100.0


def test_csv_parses_to_the_same_rows() -> None:
    rows = CpuGenerator(hosts=HOSTS).rows(ROWS)
    text = csv_text(rows)
    records = list(csv.reader(io.StringIO(text), strict=True))
    assert len(records) == ROWS
    for record, row in zip(records, rows, strict=True):
        assert len(record) == len(COLUMNS)
        assert datetime.fromisoformat(record[0]) == row[0]
        assert datetime.fromisoformat(record[0]).tzinfo is not None
        assert tuple(record[1:1 + len(TAGS)]) == row[1:1 + len(TAGS)]
        assert tuple(float(value) for value in record[1 + len(TAGS):]) == row[1 + len(TAGS):]


def test_line_protocol_parses_without_errors() -> None:
    rows = CpuGenerator(hosts=HOSTS).rows(ROWS)
    result = parse_lines(line_protocol(rows, "cpu"), precision="ns")
    assert result.errors == []
    assert len(result.points) == ROWS
    for point, row in zip(result.points, rows, strict=True):
        assert point.measurement == "cpu"
        assert point.tags == dict(zip(TAGS, row[1:1 + len(TAGS)]))
        assert point.fields == dict(zip(FIELDS, row[1 + len(TAGS):]))
        moment = row[0]
        assert isinstance(moment, datetime)
        assert point.time_us == (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_line_protocol_escapes_measurement_and_tag_values() -> None:
    row: CpuRow = (START, "host 0", "us,east", "a=b", *(["x"] * (len(TAGS) - 3)), *([1.5] * len(FIELDS)))
    result = parse_lines(line_protocol([row], "cpu load"), precision="ns")
    assert result.errors == []
    point = result.points[0]
    assert point.measurement == "cpu load"
    assert (point.tags["hostname"], point.tags["region"], point.tags["datacenter"]) == ("host 0", "us,east", "a=b")


def test_batches_split_into_consecutive_slices() -> None:
    rows = CpuGenerator(hosts=HOSTS).rows(ROWS)
    parts = batches(rows, 100)
    assert [len(part) for part in parts] == [100, 100, 50]
    assert [row for part in parts for row in part] == rows
