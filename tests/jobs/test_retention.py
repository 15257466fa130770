"""Retention policies run by an in-process Runtime on a local store, S3 (moto) and Azure (Azurite).

The clock is a ManualClock, so nothing sleeps. The store contains measurement
``telemetry.cpu``: one row every 6 hours from 2024-01-01 00:00 to
2024-01-10 18:00 UTC (40 rows, one file per hour partition), plus rows at
00:10, 00:20, 00:40 and 00:50 on 2024-01-07. At NOW (2024-01-11 00:30) a
policy of 3 days with a 1-day buffer cuts at 2024-01-07 00:30, so the
partition of 2024-01-07 00:00 straddles the cutoff.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gateway.clock import ManualClock
from gateway.config import Settings, WriterSettings
from gateway.errors import GatewayError, LockNotAvailable
from gateway.jobs.retention import MeasurementDeletion, execute_policy
from gateway.meta.lease import acquire
from gateway.meta.retention_policies import RetentionPolicies
from gateway.runtime import Runtime
from gateway.sql.commands.job_statements import JobContext, run, statement_family
from gateway.sql.parse import words
from gateway.sql.time_bounds import TimeRange
from gateway.storage import layout
from tests.emulators import StorageTarget

DATABASE = "telemetry"
START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 1, 11, 0, 30, tzinfo=UTC)
CUTOFF = datetime(2024, 1, 7, 0, 30, tzinfo=UTC)
STRADDLING = datetime(2024, 1, 7, tzinfo=UTC)
INTERVAL = timedelta(hours=1)


def _model() -> list[datetime]:
    grid = [START + timedelta(hours=6 * i) for i in range(40)]
    extra = [STRADDLING + timedelta(minutes=minutes) for minutes in (10, 20, 40, 50)]
    return sorted(grid + extra)


MODEL = _model()
SURVIVORS = [moment for moment in MODEL if moment >= CUTOFF]


@pytest.fixture
def clock() -> ManualClock:
    # The scheduler runs a job one interval after start, so the first scheduled run happens at NOW.
    return ManualClock(NOW - INTERVAL)


@pytest.fixture
def start_runtime(storage: StorageTarget, clock: ManualClock,
                  tmp_path: Path) -> Iterator[Callable[[str], Runtime]]:
    started: list[Runtime] = []

    def start(wal: str = "wal") -> Runtime:
        settings = Settings(storage_url=storage.url, s3=storage.settings.s3, azure=storage.settings.azure,
                            writer=WriterSettings(wal_dir=str(tmp_path / wal)), retention_interval=INTERVAL)
        runtime = Runtime.start(settings, clock=clock)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()


@pytest.fixture
def runtime(start_runtime: Callable[[str], Runtime]) -> Runtime:
    runtime = start_runtime("wal")
    _load(runtime, "cpu")
    return runtime


def _load(runtime: Runtime, measurement: str, times: list[datetime] = MODEL) -> None:
    rows = [{"time": moment, "host": "a", "usage": float(index)} for index, moment in enumerate(times)]
    result = runtime.writer.write_rows(DATABASE, measurement, rows)
    assert result.rejected == []
    runtime.writer.flush_measurement(DATABASE, measurement)


def _sql(runtime: Runtime, text: str) -> list[dict[str, object]]:
    statement_words = words(text)
    family = statement_family(statement_words)
    assert family == "retention"
    result = run(family, text, statement_words, JobContext(runtime, DATABASE))
    return [row for batch in result.batches for row in batch.to_pylist()]


def _listing(runtime: Runtime, measurement: str = "cpu") -> dict[str, int]:
    files = runtime.measurements.files(DATABASE, measurement, TimeRange())
    return {info.path: info.size for info in files.chosen}


def _times(runtime: Runtime, measurement: str = "cpu") -> list[datetime]:
    moments: list[datetime] = []
    for path in _listing(runtime, measurement):
        table = pq.read_table(io.BytesIO(runtime.backend.read(path)))
        moments.extend(moment.astimezone(UTC) for moment in table.column("time").to_pylist())
    return sorted(moments)


def _partition(path: str, measurement: str = "cpu") -> datetime:
    partition = layout.partition_of(path[len(layout.measurement_prefix(DATABASE, measurement)):])
    assert partition is not None
    return partition.start


def _policy_documents(runtime: Runtime) -> dict[str, bytes]:
    prefix = "_lakegate/meta/retention/"
    return {path: runtime.backend.read(path) for path in runtime.backend.list(prefix)}


# ------------------------------------------------------------------ one run


def test_run_keeps_exact_rows(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(NOW)
    before = _listing(runtime)
    removed_bytes = sum(size for path, size in before.items() if _partition(path) < STRADDLING)
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION '3 days' BUFFER '1 day'")

    rows = _sql(runtime, "EXECUTE RETENTION POLICY keep")

    assert rows == [{"measurement": "cpu", "partitions": 25, "files": 24, "rows": 27, "bytes": removed_bytes}]
    assert _times(runtime) == SURVIVORS
    after = _listing(runtime)
    assert len(before) == 40
    assert len(after) == 16
    assert sorted({_partition(path) for path in after}) == sorted({moment.replace(minute=0) for moment in SURVIVORS})
    kept = {path: size for path, size in before.items() if _partition(path) > STRADDLING}
    assert {path: size for path, size in after.items() if _partition(path) > STRADDLING} == kept


def test_straddling_partition_keeps_newer_rows(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(NOW)
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry.cpu DURATION 3d BUFFER 1d")

    _sql(runtime, "EXECUTE RETENTION POLICY keep")

    straddling = [path for path in _listing(runtime) if _partition(path) == STRADDLING]
    assert len(straddling) == 1
    table = pq.read_table(io.BytesIO(runtime.backend.read(straddling[0])))
    assert [moment.astimezone(UTC) for moment in table.column("time").to_pylist()] == [
        STRADDLING + timedelta(minutes=40), STRADDLING + timedelta(minutes=50)]
    assert table.column("usage").to_pylist() == [27.0, 28.0]


def test_buffered_old_rows_removed(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(NOW)
    late = [datetime(2024, 1, 2, 3, 15, tzinfo=UTC), datetime(2024, 1, 7, 0, 5, tzinfo=UTC),
            datetime(2024, 1, 10, 23, 0, tzinfo=UTC)]
    runtime.writer.write_rows(DATABASE, "cpu", [{"time": moment, "host": "b", "usage": 1.0} for moment in late])
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")

    rows = _sql(runtime, "EXECUTE RETENTION POLICY keep")

    assert rows[0]["rows"] == 29
    assert _times(runtime) == sorted([*SURVIVORS, late[2]])


def test_dry_run_changes_nothing(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(NOW)
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION '3 days' BUFFER '1 day'")
    before = _listing(runtime)
    documents = _policy_documents(runtime)

    predicted = _sql(runtime, "EXECUTE RETENTION POLICY keep DRY RUN")

    assert _listing(runtime) == before
    assert _times(runtime) == MODEL
    assert _policy_documents(runtime) == documents  # a dry run records no history
    done = _sql(runtime, "EXECUTE RETENTION POLICY keep")
    assert predicted == done
    assert predicted[0]["rows"] == 27


def test_measurement_policy_overrides_database(runtime: Runtime, clock: ManualClock) -> None:
    _load(runtime, "mem")
    _load(runtime, "disk")
    _sql(runtime, "CREATE RETENTION POLICY everything ON telemetry DURATION 3d BUFFER 1d")
    _sql(runtime, "CREATE RETENTION POLICY long_mem ON telemetry.mem DURATION '8 days'")
    _sql(runtime, "CREATE RETENTION POLICY paused_disk ON telemetry.disk DURATION '1 day'")
    _sql(runtime, "ALTER RETENTION POLICY paused_disk INACTIVE")
    clock.advance(INTERVAL)

    assert runtime.scheduler is not None
    assert "retention" in runtime.scheduler.run_due()

    assert _times(runtime, "cpu") == SURVIVORS
    assert _times(runtime, "mem") == [moment for moment in MODEL if moment >= NOW - timedelta(days=8)]
    assert _times(runtime, "disk") == MODEL  # its own policy is inactive, and the database's does not apply
    policies = RetentionPolicies(runtime.meta)  # type: ignore[arg-type]
    assert policies.require("everything").last_result == "ok: 24 files, 27 rows"
    assert policies.require("long_mem").last_result == "ok: 9 files, 9 rows"  # the straddling file has one old row only
    assert policies.require("paused_disk").last_run is None


def test_inactive_policy_not_scheduled(runtime: Runtime, clock: ManualClock) -> None:
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    _sql(runtime, "ALTER RETENTION POLICY keep INACTIVE")
    before = _listing(runtime)
    clock.advance(INTERVAL)

    assert runtime.scheduler is not None
    assert "retention" in runtime.scheduler.run_due()

    assert _listing(runtime) == before
    shown = _sql(runtime, "SHOW RETENTION POLICIES")
    assert shown[0]["active"] is False
    assert shown[0]["last_run"] is None
    assert shown[0]["last_result"] is None


def test_execute_runs_inactive_policy(runtime: Runtime, clock: ManualClock) -> None:
    clock.set(NOW)
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    _sql(runtime, "ALTER RETENTION POLICY keep INACTIVE")

    rows = _sql(runtime, "EXECUTE RETENTION POLICY keep")

    assert rows[0]["rows"] == 27
    assert _times(runtime) == SURVIVORS


def test_scheduled_run_records_history(runtime: Runtime, clock: ManualClock) -> None:
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    assert runtime.scheduler is not None
    clock.advance(INTERVAL / 2)
    assert "retention" not in runtime.scheduler.run_due()  # not due yet
    clock.set(NOW)

    assert "retention" in runtime.scheduler.run_due()

    assert _times(runtime) == SURVIVORS
    shown = _sql(runtime, "SHOW RETENTION POLICIES ON telemetry")
    assert shown == [{"name": "keep", "database": DATABASE, "measurement": None, "duration": "3 days",
                      "buffer": "1 day", "active": True, "last_run": NOW, "last_result": "ok: 24 files, 27 rows"}]
    clock.advance(INTERVAL)
    assert "retention" in runtime.scheduler.run_due()
    assert _times(runtime) == [moment for moment in MODEL if moment >= CUTOFF + INTERVAL]
    assert _sql(runtime, "SHOW RETENTION POLICIES")[0]["last_run"] == NOW + INTERVAL


# ------------------------------------------------------------------ several runs and gateways


def test_concurrent_runs_delete_once(runtime: Runtime, start_runtime: Callable[[str], Runtime],
                                     clock: ManualClock) -> None:
    clock.set(NOW)
    other = start_runtime("wal-other")
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    barrier = threading.Barrier(2)
    outcomes: list[list[MeasurementDeletion] | str] = []

    def execute(gateway: Runtime) -> None:
        policy = RetentionPolicies(gateway.meta).require("keep")  # type: ignore[arg-type]
        barrier.wait()
        try:
            outcomes.append(execute_policy(gateway, policy))
        except LockNotAvailable as error:
            outcomes.append(error.sqlstate)

    threads = [threading.Thread(target=execute, args=(gateway,)) for gateway in (runtime, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 2
    reported = [deletion for outcome in outcomes if isinstance(outcome, list) for deletion in outcome]
    refused = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert sum(deletion.rows for deletion in reported) == 27
    assert sum(deletion.files for deletion in reported) == 24
    assert refused in ([], ["55P03"])
    assert _times(runtime) == SURVIVORS


def test_lease_held_elsewhere_skips_scheduled_run(runtime: Runtime, clock: ManualClock) -> None:
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    other_lease = acquire(runtime.backend, "retention", "keep", clock, holder="other-gateway", ttl=2 * INTERVAL)
    assert other_lease is not None
    clock.advance(INTERVAL)
    assert runtime.scheduler is not None

    runtime.scheduler.run_due()

    assert _times(runtime) == MODEL
    assert _sql(runtime, "SHOW RETENTION POLICIES")[0]["last_run"] is None
    with pytest.raises(LockNotAvailable) as excinfo:
        _sql(runtime, "EXECUTE RETENTION POLICY keep")
    assert excinfo.value.sqlstate == "55P03"
    other_lease.release(clock())
    assert _sql(runtime, "EXECUTE RETENTION POLICY keep")[0]["rows"] == 27


def test_restart_keeps_policies_and_history(runtime: Runtime, start_runtime: Callable[[str], Runtime],
                                            clock: ManualClock) -> None:
    clock.set(NOW)
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    _sql(runtime, "CREATE RETENTION POLICY mem_week ON telemetry.mem DURATION 1w")
    _sql(runtime, "ALTER RETENTION POLICY mem_week INACTIVE")
    _sql(runtime, "EXECUTE RETENTION POLICY keep")
    shown = _sql(runtime, "SHOW RETENTION POLICIES")
    runtime.close()

    restarted = start_runtime("wal-restarted")

    assert _sql(restarted, "SHOW RETENTION POLICIES") == shown
    assert [row["name"] for row in shown] == ["keep", "mem_week"]
    assert shown[0]["last_run"] == NOW
    assert shown[0]["last_result"] == "ok: 24 files, 27 rows"
    assert shown[1]["duration"] == "1 week"
    assert shown[1]["active"] is False


def test_failed_run_recorded_then_recovers(runtime: Runtime, clock: ManualClock) -> None:
    runtime.measurements.create_database("scratch")
    _sql(runtime, "CREATE RETENTION POLICY scratch_day ON scratch DURATION 1d")
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    runtime.backend.delete("scratch/_lakegate_database")  # the database is dropped
    clock.advance(INTERVAL)
    assert runtime.scheduler is not None

    assert "retention" in runtime.scheduler.run_due()

    policies = RetentionPolicies(runtime.meta)  # type: ignore[arg-type]
    failed = policies.require("scratch_day")
    assert failed.last_run == NOW
    assert failed.last_result == ('error: database "scratch" of retention policy "scratch_day" does not exist (SQLSTATE 3D000)')
    assert policies.require("keep").last_result == "ok: 24 files, 27 rows"  # the other policy still ran

    runtime.measurements.create_database("scratch")
    runtime.writer.write_rows("scratch", "events", [{"time": NOW - timedelta(days=2), "n": 1},
                                                    {"time": NOW - timedelta(hours=2), "n": 2}])
    runtime.writer.flush_measurement("scratch", "events")
    clock.advance(INTERVAL)
    assert "retention" in runtime.scheduler.run_due()

    recovered = policies.require("scratch_day")
    assert recovered.last_run == NOW + INTERVAL
    assert recovered.last_result == "ok: 1 files, 1 rows"


# ------------------------------------------------------------------ statements and bad input


def test_show_types_and_values(runtime: Runtime) -> None:
    _sql(runtime, "CREATE RETENTION POLICY \"Keep-All\" ON telemetry DURATION '1 day 12 hours' BUFFER 90m")
    _sql(runtime, "CREATE RETENTION POLICY cpu_month ON telemetry.cpu DURATION '30 days'")
    statement_words = words("SHOW RETENTION POLICIES")
    result = run("retention", "SHOW RETENTION POLICIES", statement_words, JobContext(runtime, DATABASE))

    assert result.tag == "SELECT"
    assert result.schema is not None
    assert [str(field.type) for field in result.schema] == [
        "string", "string", "string", "string", "string", "bool", "timestamp[us, tz=UTC]", "string"]
    rows = [row for batch in result.batches for row in batch.to_pylist()]
    assert rows == [
        {"name": "Keep-All", "database": DATABASE, "measurement": None, "duration": "1 day 12 hours",
         "buffer": "1 hour 30 minutes", "active": True, "last_run": None, "last_result": None},
        {"name": "cpu_month", "database": DATABASE, "measurement": "cpu", "duration": "30 days",
         "buffer": "0 seconds", "active": True, "last_run": None, "last_result": None},
    ]
    assert _sql(runtime, "SHOW RETENTION POLICIES ON other") == []


def test_alter_and_drop(runtime: Runtime) -> None:
    _sql(runtime, "CREATE RETENTION POLICY Keep ON telemetry DURATION 3d")
    _sql(runtime, "ALTER RETENTION POLICY KEEP SET DURATION '2 weeks'")
    _sql(runtime, "ALTER RETENTION POLICY keep SET BUFFER 6h")
    _sql(runtime, "ALTER RETENTION POLICY keep INACTIVE")
    assert _sql(runtime, "SHOW RETENTION POLICIES")[0] | {"last_run": None} == {
        "name": "keep", "database": DATABASE, "measurement": None, "duration": "2 weeks", "buffer": "6 hours",
        "active": False, "last_run": None, "last_result": None}
    _sql(runtime, "ALTER RETENTION POLICY keep ACTIVE")
    assert _sql(runtime, "SHOW RETENTION POLICIES")[0]["active"] is True

    drop_words = words("DROP RETENTION POLICY keep")
    assert run("retention", "", drop_words, JobContext(runtime, DATABASE)).tag == "DROP RETENTION POLICY"
    assert _sql(runtime, "SHOW RETENTION POLICIES") == []
    missing_words = words("DROP RETENTION POLICY IF EXISTS keep")
    result = run("retention", "", missing_words, JobContext(runtime, DATABASE))
    assert result.tag == "DROP RETENTION POLICY"
    assert result.notices == ['retention policy "keep" does not exist, skipping']


BAD_STATEMENTS = [
    ("CREATE RETENTION POLICY keep ON telemetry DURATION '3 days'", "42710"),  # the name is taken
    ("CREATE RETENTION POLICY other ON telemetry DURATION '3 days'", "42710"),  # the database has a policy
    ("CREATE RETENTION POLICY other ON nowhere DURATION '3 days'", "3D000"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION '0 days'", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION '-3 days'", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION -3d", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION '3 months'", "22007"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 'soon'", "22007"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 1.5d", "22007"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 3d BUFFER '-1 day'", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 3d BUFFER -1h", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 3d BUFFER 'a while'", "22007"),
    ("CREATE RETENTION POLICY \"_hidden\" ON telemetry DURATION 3d", "42602"),
    ("CREATE RETENTION POLICY \"two words\" ON telemetry DURATION 3d", "42602"),
    ("CREATE RETENTION POLICY other ON \"bad/db\" DURATION 3d", "42602"),
    ("CREATE RETENTION POLICY other ON telemetry.\"cpu*\" DURATION 3d", "42602"),
    ("CREATE RETENTION POLICY other ON telemetry", "42601"),
    ("CREATE RETENTION POLICY other telemetry DURATION 3d", "42601"),
    ("CREATE RETENTION POLICY other ON telemetry DURATION 3d BUFFER", "42601"),
    ("CREATE RETENTION POLICY other ON telemetry DURATION 3d extra", "42601"),
    ("CREATE RETENTION POLICIES other ON telemetry DURATION 3d", "42601"),
    ("ALTER RETENTION POLICY missing ACTIVE", "42704"),
    ("ALTER RETENTION POLICY keep SET DURATION '0 seconds'", "22023"),
    ("ALTER RETENTION POLICY keep SET BUFFER '-2 hours'", "22023"),
    ("ALTER RETENTION POLICY keep SET DURATION 'forever'", "22007"),
    ("ALTER RETENTION POLICY keep SET ACTIVE", "42601"),
    ("ALTER RETENTION POLICY keep", "42601"),
    ("DROP RETENTION POLICY missing", "42704"),
    ("DROP RETENTION POLICY IF keep", "42601"),
    ("DROP RETENTION POLICY keep CASCADE", "42601"),
    ("SHOW RETENTION POLICY", "42601"),
    ("SHOW RETENTION POLICIES ON", "42601"),
    ("SHOW RETENTION POLICIES FROM telemetry", "42601"),
    ("EXECUTE RETENTION POLICY missing", "42704"),
    ("EXECUTE RETENTION POLICY missing DRY RUN", "42704"),
    ("EXECUTE RETENTION POLICY keep DRY", "42601"),
    ("EXECUTE RETENTION POLICIES keep", "42601"),
]


def test_bad_statements_change_nothing(runtime: Runtime) -> None:
    _sql(runtime, "CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
    documents = _policy_documents(runtime)
    listing = _listing(runtime)

    for text, sqlstate in BAD_STATEMENTS:
        with pytest.raises(GatewayError) as excinfo:
            _sql(runtime, text)
        assert (text, excinfo.value.sqlstate) == (text, sqlstate)

    assert _policy_documents(runtime) == documents
    assert _listing(runtime) == listing
