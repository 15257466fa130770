"""The buffered Arrow writer on a real local store, S3 (moto) and Azure (Azurite).

Two tests wrap the real backend to hold or fail a write on demand: a real
store cannot be made slow or broken at an exact moment, and those tests
check what happens in that moment.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gateway.errors import (
    ConfigurationError,
    DatatypeMismatch,
    InvalidName,
    StorageError,
)
from gateway.ingest.arrow_writer import ArrowWriter, FlushLimits
from gateway.ingest.column_kinds import TIME_TYPE
from gateway.ingest.line_syntax import UnsignedInt
from gateway.ingest.wal import WriteAheadLog
from gateway.storage.backend import StorageBackend
from gateway.storage.local import LocalBackend
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _micros(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp() * 1_000_000)


def _stored(backend: StorageBackend, prefix: str) -> list[str]:
    return sorted(path for path in backend.list(prefix) if path.endswith(".parquet"))


def _read_all(backend: StorageBackend, paths: list[str]) -> pa.Table:
    tables = [pq.read_table(io.BytesIO(backend.read(path))) for path in paths]
    return pa.concat_tables(tables, promote_options="permissive").sort_by("time")


def _writer(backend: StorageBackend, tmp_path: Path | None = None, **limits: float) -> ArrowWriter:
    wal = WriteAheadLog(tmp_path / "wal") if tmp_path is not None else None
    return ArrowWriter(backend, lambda database, measurement: {}, wal=wal,
                       limits=FlushLimits(**limits), clock=FakeClock())  # type: ignore[arg-type]


# ------------------------------------------------------------------ rows to columns


def test_rows_become_typed_columns(tmp_path: Path) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"))
    result = writer.write_rows("db", "m", [
        {"time": datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), "host": "a", "n": 1, "u": UnsignedInt(2**63 + 1),
         "x": 1.5, "ok": True, "at": datetime(2024, 5, 1, tzinfo=UTC)},
        {"time": "2024-01-01T00:00:02+01:00", "host": "b", "n": 2},
        {"time": 1_704_067_203_000_000_000, "extra": "late column"},
    ])
    assert result.rejected == []
    table = result.table
    assert table.schema.names == ["time", "at", "extra", "host", "n", "ok", "u", "x"]
    assert [field.type for field in table.schema] == [
        TIME_TYPE, TIME_TYPE, pa.string(), pa.string(), pa.int64(), pa.bool_(), pa.uint64(), pa.float64()]
    assert table["time"].to_pylist() == [datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC),
                                         datetime(2023, 12, 31, 23, 0, 2, tzinfo=UTC),
                                         datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC)]
    assert table["u"].to_pylist() == [2**63 + 1, None, None]
    assert table["extra"].to_pylist() == [None, None, "late column"]


def test_row_without_time_gets_arrival_time(tmp_path: Path) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"))
    before = datetime.now(UTC)
    table = writer.write_rows("db", "m", [{"v": 1}]).table
    after = datetime.now(UTC)
    assert before.replace(microsecond=0) <= table["time"][0].as_py() <= after


def test_int_and_float_widen_to_float(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    writer = _writer(backend)
    writer.write_rows("db", "m", [{"time": 1, "v": 1}, {"time": 2, "v": 2}])
    writer.write_rows("db", "m", [{"time": 3, "v": 2.5}])
    writer.write_rows("db", "m", [{"time": 4, "v": 7}])
    assert writer.column_kinds("db", "m") == {"v": "float"}
    snapshot = writer.snapshot("db", "m").table
    assert snapshot["v"].type == pa.float64()
    assert snapshot["v"].to_pylist() == [1.0, 2.0, 2.5, 7.0]
    writer.flush_all()
    assert _read_all(backend, _stored(backend, "db/m/"))["v"].to_pylist() == [1.0, 2.0, 2.5, 7.0]


def test_conflicting_rows_rejected_others_kept(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    writer = _writer(backend)
    writer.write_rows("db", "m", [{"time": 1000, "host": "a", "v": 1}])
    result = writer.write_rows("db", "m", [
        {"time": 2000, "host": "b", "v": 2},
        {"time": 3000, "host": 5, "v": 3},
        {"time": 4000, "host": "c", "v": "text"},
        {"time": 5000, "host": "d", "v": True},
        {"time": 6000, "host": "e", "v": 6},
    ])
    assert result.rejected == [
        (1, 'column "host" of measurement "m" is of type string but the value is of type integer'),
        (2, 'column "v" of measurement "m" is of type integer but the value is of type string'),
        (3, 'column "v" of measurement "m" is of type integer but the value is of type boolean'),
    ]
    writer.flush_all()
    table = _read_all(backend, _stored(backend, "db/m/"))
    assert table["host"].to_pylist() == ["a", "b", "e"]
    assert table["v"].to_pylist() == [1, 2, 6]


def test_record_batches_are_buffered(tmp_path: Path) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"))
    batch = pa.record_batch({"v": [1.5, 2.5], "time": pa.array([2_000, 1_000], TIME_TYPE)})
    assert writer.write_table("db", "m", batch) == 2
    snapshot = writer.snapshot("db", "m").table
    assert snapshot.column_names == ["time", "v"]
    assert snapshot["v"].to_pylist() == [1.5, 2.5]


def test_conflicts_with_stored_files_rejected(tmp_path: Path) -> None:
    stored = {"v": "BIGINT", "host": "VARCHAR", "time": "TIMESTAMP WITH TIME ZONE"}
    writer = ArrowWriter(LocalBackend(tmp_path / "store"), lambda database, measurement: stored)
    result = writer.write_rows("db", "m", [{"time": 1, "host": 1}, {"time": 2, "v": 0.5}])
    assert result.rejected == [
        (0, 'column "host" of measurement "m" is of type string but the value is of type integer')]
    with pytest.raises(DatatypeMismatch, match='column "host" of measurement "m" is of type string'):
        writer.write_table("db", "m", pa.table({"time": pa.array([1], TIME_TYPE), "host": [True]}))
    assert writer.snapshot("db", "m").table.num_rows == 1


@pytest.mark.parametrize(("value", "reason"), [
    ("yesterday", "time 'yesterday' is not an ISO 8601 timestamp"),
    (10**22, "out of range"),
    (True, "time must be a timestamp, not a boolean"),
    (1.5, "time must be a timestamp, not float"),
])
def test_bad_time_rejects_its_row(tmp_path: Path, value: object, reason: str) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"))
    result = writer.write_rows("db", "m", [{"time": value, "v": 1}, {"time": 5_000, "v": 2}])
    assert len(result.rejected) == 1
    assert result.rejected[0][0] == 0
    assert reason in result.rejected[0][1]
    assert result.table["v"].to_pylist() == [2]


def test_column_named_like_time_rejected(tmp_path: Path) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"))
    with pytest.raises(InvalidName, match='collides with "time"'):
        writer.write_table("db", "m", pa.table({"time": pa.array([1], TIME_TYPE), "Time": [1]}))
    assert writer.snapshot("db", "m").table is None


# ------------------------------------------------------------------ flushing


def _target(request: pytest.FixtureRequest) -> StorageTarget:
    return request.getfixturevalue(f"{request.param}_storage_url")


@pytest.fixture(params=["local", "s3", "azure"])
def store(request: pytest.FixtureRequest) -> StorageBackend:
    target = _target(request)
    return open_backend(target.url, target.settings)


def test_flush_writes_one_sorted_zstd_file_per_hour(store: StorageBackend, tmp_path: Path) -> None:
    writer = _writer(store, tmp_path, rows=6)
    hours = ["2024-03-01T10:59:59+00:00", "2024-03-01T10:00:00+00:00", "2024-03-01T12:30:00+00:00",
             "2024-03-01T10:30:00+00:00", "2024-03-01T12:00:00+00:00"]
    writer.write_rows("db", "cpu", [{"time": _micros(text) * 1000, "v": index} for index, text in enumerate(hours)])
    assert _stored(store, "db/cpu/") == []
    writer.write_rows("db", "cpu", [{"time": _micros("2024-03-01T11:00:00+00:00") * 1000, "v": 5}])
    writer.flush_all()
    paths = _stored(store, "db/cpu/")
    assert [path.rsplit("/", 2)[1] for path in paths] == ["10", "11", "12"]
    assert len({path.rsplit("_", 1)[1] for path in paths}) == 1  # one flush, one file id
    first = pq.ParquetFile(io.BytesIO(store.read(paths[0])))
    assert first.metadata.num_rows == 3
    column = first.metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"
    assert column.statistics.has_min_max
    times = first.read()["time"].to_pylist()
    assert times == sorted(times)
    assert [value.minute for value in times] == [0, 30, 59]
    assert writer.stats.rows_written == 6
    assert writer.stats.files_written == 3
    assert list((tmp_path / "wal").glob("*.wal")) == []
    writer.close()


def test_age_limit_flushes_in_background(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    clock = FakeClock()
    writer = ArrowWriter(backend, lambda database, measurement: {}, limits=FlushLimits(age=5.0), clock=clock)
    writer.start()
    writer.write_rows("db", "m", [{"time": 1, "v": 1}])
    time.sleep(0.6)
    assert _stored(backend, "db/m/") == []
    clock.now += 5.0
    deadline = time.monotonic() + 10
    while not _stored(backend, "db/m/") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_stored(backend, "db/m/")) == 1
    assert writer.snapshot("db", "m").table is None
    writer.close()


def test_byte_limit_rotates_the_buffer(tmp_path: Path) -> None:
    writer = _writer(LocalBackend(tmp_path / "store"), bytes=1000)
    writer.write_rows("db", "m", [{"time": index, "text": "x" * 100} for index in range(5)])  # about 600 bytes
    writer.write_rows("db", "m", [{"time": index, "text": "x" * 100} for index in range(5, 10)])  # rotates
    writer.write_rows("db", "m", [{"time": index, "text": "x" * 100} for index in range(10, 20)])  # rotates
    assert writer.snapshot("db", "m").table.num_rows == 20
    writer.flush_all()
    assert writer.stats.flushes == 2
    assert writer.stats.rows_written == 20


class HeldBackend(LocalBackend):
    """A local store whose writes wait for ``release`` after storing the file, and may fail first."""

    def __init__(self, root: Path, failures: int = 0) -> None:
        super().__init__(root)
        self.release = threading.Event()
        self.written = threading.Event()
        self.failures = failures

    def write(self, path: str, data: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("simulated storage outage")
        super().write(path, data)
        self.written.set()
        self.release.wait(timeout=30)


def test_flushing_rows_read_once(tmp_path: Path) -> None:
    from gateway.engine import Engine
    from gateway.sql.measurements import Measurements
    from gateway.sql.time_bounds import TimeRange

    backend = HeldBackend(tmp_path / "store")
    writer = ArrowWriter(backend, lambda database, measurement: {})
    measurements = Measurements(Engine(backend, lambda: []))
    measurements.buffered = writer
    writer.write_rows("db", "m", [{"time": 3_600_000_000_000 * hour, "v": hour} for hour in range(3)])
    flush = threading.Thread(target=writer.flush_all)
    flush.start()
    assert backend.written.wait(timeout=10)
    files = measurements.files("db", "m", TimeRange())
    assert len(_stored(backend, "db/m/")) >= 1  # a file of the flush is already listed ...
    assert files.chosen == []  # ... but left out, because the buffered rows are read instead
    assert files.buffered.num_rows == 3
    backend.release.set()
    flush.join(timeout=10)
    after = measurements.files("db", "m", TimeRange())
    assert (len(after.chosen), after.buffered) == (3, None)


def test_writers_wait_at_memory_limit(tmp_path: Path) -> None:
    backend = HeldBackend(tmp_path / "store")
    writer = ArrowWriter(backend, lambda database, measurement: {}, limits=FlushLimits(rows=10, memory=5000))
    writer.start()
    writer.write_rows("db", "m", [{"time": index, "text": "y" * 500} for index in range(10)])
    assert backend.written.wait(timeout=10)  # the flush holds; its bytes still count
    done = threading.Event()
    second = threading.Thread(target=lambda: (writer.write_rows("db", "n", [{"time": 1, "text": "z" * 500}]),
                                              done.set()))
    second.start()
    assert not done.wait(timeout=1.0)
    backend.release.set()
    assert done.wait(timeout=10)
    writer.close()
    assert writer.stats.rows_written == 11


def test_failed_flush_keeps_rows_and_retries(tmp_path: Path) -> None:
    backend = HeldBackend(tmp_path / "store", failures=1)
    backend.release.set()
    writer = ArrowWriter(backend, lambda database, measurement: {}, wal=WriteAheadLog(tmp_path / "wal"))
    writer.write_rows("db", "m", [{"time": 1, "v": 1}])
    with pytest.raises(StorageError, match="could not be written"):
        writer.flush_all()
    assert writer.snapshot("db", "m").table.num_rows == 1
    assert len(list((tmp_path / "wal").glob("*.wal"))) == 1
    writer.flush_all()
    assert writer.snapshot("db", "m").table is None
    assert len(_stored(backend, "db/m/")) == 1
    assert list((tmp_path / "wal").glob("*.wal")) == []
    writer.close()


# ------------------------------------------------------------------ write-ahead log


def test_unflushed_rows_replayed_once(store: StorageBackend, tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path / "wal")
    writer = ArrowWriter(store, lambda database, measurement: {}, wal=wal)
    writer.write_rows("db", "m", [{"time": 1_000, "v": 1}, {"time": 3_600_000_000_000, "v": 2}])
    writer.write_rows("db", "m", [{"time": 2_000, "v": 3.5}])
    wal._lock_handle.close()  # the process "dies": nothing flushed, the lock released
    assert _stored(store, "db/m/") == []

    replaying = ArrowWriter(store, lambda database, measurement: {}, wal=WriteAheadLog(tmp_path / "wal"))
    assert replaying.replay() == 3
    paths = _stored(store, "db/m/")
    assert len(paths) == 2
    assert _read_all(store, paths)["v"].to_pylist() == [1.0, 3.5, 2.0]
    assert list((tmp_path / "wal").glob("*.wal")) == []
    replaying.close()


def test_replay_after_partial_replay_rewrites_same_files(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    wal = WriteAheadLog(tmp_path / "wal")
    writer = ArrowWriter(backend, lambda database, measurement: {}, wal=wal)
    writer.write_rows("db", "m", [{"time": 1_000, "v": 1}, {"time": 3_600_000_000_000, "v": 2}])
    segment = next(iter(wal._open.values()))
    wal._lock_handle.close()
    # A previous replay wrote one of the two hour files, then the process died.
    from gateway.ingest.parquet_files import write_hour_files
    write_hour_files(backend, "db", "m", writer.snapshot("db", "m").table.slice(0, 1), file_id=segment.segment_id)
    replaying = ArrowWriter(backend, lambda database, measurement: {}, wal=WriteAheadLog(tmp_path / "wal"))
    replaying.replay()
    paths = _stored(backend, "db/m/")
    assert len(paths) == 2
    assert _read_all(backend, paths)["v"].to_pylist() == [1, 2]
    replaying.close()


def test_torn_last_record_dropped(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "store")
    wal = WriteAheadLog(tmp_path / "wal")
    writer = ArrowWriter(backend, lambda database, measurement: {}, wal=wal)
    writer.write_rows("db", "m", [{"time": 1_000, "v": 1}])
    writer.write_rows("db", "m", [{"time": 2_000, "v": 2}])
    segment = next(iter(wal._open.values()))
    wal._lock_handle.close()
    data = segment.path.read_bytes()
    segment.path.write_bytes(data[:-7])  # the second record was being written when the process died
    replaying = ArrowWriter(backend, lambda database, measurement: {}, wal=WriteAheadLog(tmp_path / "wal"))
    assert replaying.replay() == 1
    assert _read_all(backend, _stored(backend, "db/m/"))["v"].to_pylist() == [1]
    replaying.close()


def test_wal_directory_locked_to_one_process(tmp_path: Path) -> None:
    first = WriteAheadLog(tmp_path / "wal")
    with pytest.raises(ConfigurationError, match="in use by another lakegate process"):
        WriteAheadLog(tmp_path / "wal")
    first.close()
    WriteAheadLog(tmp_path / "wal").close()
