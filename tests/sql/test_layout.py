"""Names, paths and partitions of the store layout."""

from datetime import UTC, datetime

import pytest

from gateway.errors import InvalidName
from gateway.storage import layout


@pytest.mark.parametrize("name", ["cpu", "a", "Cpu_1", "host-metrics", "x" * 64, "9lives"])
def test_valid_names_accepted(name: str) -> None:
    assert layout.validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "../x", "a/b", "a\\b", "..", ".", "_hidden", "-dash", "it's", 'quo"te', "nul\x00l",
     "x" * 65, "space name", "semi;colon", "ünïcode", "a.b"],
)
def test_invalid_names_rejected(name: str) -> None:
    with pytest.raises(InvalidName) as excinfo:
        layout.validate_name(name)
    assert excinfo.value.sqlstate == "42602"


def test_hour_directory_uses_utc() -> None:
    moment = datetime.fromisoformat("2024-03-05T07:30:00+02:00")
    assert layout.hour_directory("db", "cpu", moment) == "db/cpu/2024/03/05/05/"


def test_new_file_path_is_unique_and_in_hour() -> None:
    hour = datetime(2024, 1, 2, 3, tzinfo=UTC)
    paths = {layout.new_file_path("db", "cpu", hour) for _ in range(200)}
    assert len(paths) == 200
    assert all(path.startswith("db/cpu/2024/01/02/03/cpu_") and path.endswith(".parquet") for path in paths)


@pytest.mark.parametrize(
    ("relative", "start", "end"),
    [
        ("2024/01/02/03/f.parquet", "2024-01-02T03:00", "2024-01-02T04:00"),
        ("2024/01/02/23/f.parquet", "2024-01-02T23:00", "2024-01-03T00:00"),
        ("2024/01/02/f.parquet", "2024-01-02T00:00", "2024-01-03T00:00"),
    ],
)
def test_partition_of_paths(relative: str, start: str, end: str) -> None:
    partition = layout.partition_of(relative)
    assert partition is not None
    assert partition.start == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert partition.end == datetime.fromisoformat(end).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "relative", ["2024/13/02/03/f.parquet", "2024/01/02/24/f.parquet", "2024/01/f.parquet", "x/f.parquet",
                 "2024/01/02/03/f.csv", "2024/01/02/03/04/f.parquet"],
)
def test_partition_of_other_paths_is_none(relative: str) -> None:
    assert layout.partition_of(relative) is None


def test_partition_overlap_is_inclusive() -> None:
    partition = layout.partition_of("2024/01/02/03/f.parquet")
    assert partition is not None
    at = datetime(2024, 1, 2, 3, tzinfo=UTC)
    assert partition.overlaps(at, at)
    assert partition.overlaps(None, at)
    assert not partition.overlaps(datetime(2024, 1, 2, 4, tzinfo=UTC), None)
    assert partition.overlaps(datetime(2024, 1, 2, 3, 59, 59, 999999, tzinfo=UTC), None)
    assert not partition.overlaps(None, datetime(2024, 1, 2, 2, 59, 59, tzinfo=UTC))
