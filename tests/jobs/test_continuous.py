"""Continuous queries run by an in-process Runtime on a local store, S3 (moto) and Azure (Azurite).

The clock is a ManualClock, so nothing sleeps. Two data sets:
- ``weather.ndbc``: the NOAA buoy observations of the shared sample file,
  796 rows from 2021-06-11 00:30 to 03:20 UTC (four hour partitions);
- ``telemetry.cpu``: TSBS-style cpu rows from bench/cpu_data.py for 3
  hosts, one step every 3 hours through January 2024 (one file per step).
Expected aggregates are computed by DuckDB directly over the rows as read
back from the store, with the same SQL as the continuous query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from bench.cpu_data import FIELDS, TAGS, CpuGenerator
from gateway.clock import ManualClock
from gateway.config import Settings, WriterSettings
from gateway.errors import GatewayError
from gateway.ingest.lineprotocol import parse_lines, points_to_rows
from gateway.jobs import continuous
from gateway.jobs.continuous import ContinuousRunner
from gateway.meta.continuous_queries import ContinuousQueries
from gateway.meta.lease import acquire
from gateway.runtime import Runtime
from gateway.session import Session
from gateway.sql.commands.job_statements import JobContext, run
from gateway.sql.parse import words
from gateway.sql.results import Result
from gateway.sql.time_bounds import TimeRange
from tests.emulators import StorageTarget

NOAA = Path(__file__).resolve().parents[3] / "shared" / "data" / "noaa-ndbc-latest-observations.lp"
INTERVAL = timedelta(minutes=1)
NOAA_DONE = datetime(2021, 6, 11, 4, 10, tzinfo=UTC)  # after the last NOAA hour, 03:00-04:00
HOURLY_SELECT = ("SELECT time_bucket(INTERVAL '1 hour', time) AS time, station_pgm, "
                 "avg(wind_speed_mps) AS wind_speed_mps, max(gust_speed_mps) AS gust_speed_mps, "
                 "count(*) AS observations FROM ndbc GROUP BY ALL")
HOURLY_CQ = f"CREATE CONTINUOUS QUERY ndbc_hourly ON weather EVERY '1 hour' FOR '2 hours' AS INSERT INTO ndbc_1h {HOURLY_SELECT}"
STORED_HOURLY = ("SELECT time, station_pgm, wind_speed_mps, gust_speed_mps, observations FROM ndbc_1h "
                 "ORDER BY time, station_pgm")
MONTH = datetime(2024, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CPU_SELECT = ("SELECT time_bucket(INTERVAL '1 hour', time) AS time, hostname, avg(usage_user) AS usage_user, "
              "min(usage_idle) AS usage_idle FROM cpu GROUP BY ALL")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOAA_DONE - INTERVAL)


@pytest.fixture
def start_runtime(storage: StorageTarget, clock: ManualClock,
                  tmp_path: Path) -> Iterator[Callable[[], Runtime]]:
    started: list[Runtime] = []

    def start() -> Runtime:
        settings = Settings(storage_url=storage.url, s3=storage.settings.s3, azure=storage.settings.azure,
                            writer=WriterSettings(wal_dir=str(tmp_path / "wal")),
                            continuous_query_interval=INTERVAL, retention_interval=timedelta(days=365))
        runtime = Runtime.start(settings, clock=clock)
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()


@pytest.fixture
def weather(start_runtime: Callable[[], Runtime]) -> Runtime:
    """A runtime whose store contains the NOAA rows as weather.ndbc, flushed to Parquet."""
    runtime = start_runtime()
    rows = points_to_rows(parse_lines(NOAA.read_bytes()).points)["ndbc"]
    for row in rows:  # the parser gives microseconds; the writer reads a bare integer as nanoseconds
        row["time"] = EPOCH + timedelta(microseconds=int(row["time"]))  # type: ignore[call-overload]
    runtime.writer.write_rows("weather", "ndbc", rows)
    runtime.writer.flush_all()
    return runtime


def _statement(runtime: Runtime, sql: str, database: str = "weather") -> Result:
    return run("continuous", sql, words(sql), JobContext(runtime, database))


def _table(result: Result) -> pa.Table:
    assert result.schema is not None
    return pa.Table.from_batches(list(result.batches), schema=result.schema)


def _select(runtime: Runtime, database: str, sql: str) -> list[tuple[object, ...]]:
    session = Session(runtime, database, "tester")
    try:
        table = _table(session.run(session.prepare(sql), []))
    finally:
        session.close()
    return [tuple(row.values()) for row in table.to_pylist()]


def _expected(runtime: Runtime, database: str, measurement: str, select: str, order: str) -> list[tuple[object, ...]]:
    """Run ``select`` in a plain DuckDB over the measurement's rows as the gateway returns them."""
    session = Session(runtime, database, "tester")
    try:
        raw = _table(session.run(session.prepare(f"SELECT * FROM {measurement}"), []))
    finally:
        session.close()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register(measurement, raw)
    return [tuple(row) for row in connection.execute(f"SELECT * FROM ({select}) ORDER BY {order}").fetchall()]


def _rounded(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [tuple(round(value, 9) if isinstance(value, float) else value for value in row) for row in rows]


def _queries(runtime: Runtime) -> ContinuousQueries:
    assert runtime.meta is not None
    return ContinuousQueries(runtime.meta)


def _hour(hour: int) -> datetime:
    return datetime(2021, 6, 11, hour, tzinfo=UTC)


def _write_cpu_month(runtime: Runtime) -> None:
    """Write 3 hosts' cpu rows, one step every 3 hours through January 2024."""
    generator = CpuGenerator(hosts=3, seed=7, start=MONTH)
    rows = []
    for step in range(31 * 24 * 360):
        chunk = generator.rows(3)
        if step % (3 * 360) == 0:
            rows.extend(chunk)
    names = ("time", *TAGS, *FIELDS)
    runtime.writer.write_rows("telemetry", "cpu", [dict(zip(names, row, strict=True)) for row in rows])
    runtime.writer.flush_all()


# ------------------------------------------------------------------ scheduled runs


def test_hourly_downsample_equals_duckdb(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    clock.advance(INTERVAL)

    assert weather.scheduler is not None
    assert weather.scheduler.run_due() == ["continuous queries"]
    stored = _select(weather, "weather", STORED_HOURLY)
    expected = _expected(weather, "weather", "ndbc", HOURLY_SELECT, "time, station_pgm")

    assert len(expected) > 4
    assert {row[0] for row in expected} == {_hour(0), _hour(1), _hour(2), _hour(3)}
    assert _rounded(stored) == _rounded(expected)
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.watermark == _hour(4)
    assert query.last_run == NOAA_DONE
    assert query.last_result == f"ok: 4 windows, {len(expected)} rows"


def test_late_rows_inside_for_are_picked_up(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    runner = ContinuousRunner(weather)
    runner.run_due(clock())
    late = {"time": _hour(2) + timedelta(minutes=5), "station_id": "late", "station_pgm": "Late Program",
            "wind_speed_mps": 4.0}
    too_late = {"time": _hour(0) + timedelta(minutes=5), "station_id": "later", "station_pgm": "Too Late",
                "wind_speed_mps": 9.0}
    weather.writer.write_rows("weather", "ndbc", [late, too_late])

    clock.advance(timedelta(hours=1))  # the 04:00-05:00 window is complete: a run is due
    assert runner.run_due(clock()) == ["ndbc_hourly"]

    programs = _select(weather, "weather",
                       "SELECT time, wind_speed_mps, observations FROM ndbc_1h "
                       "WHERE station_pgm IN ('Late Program', 'Too Late') ORDER BY time")
    assert programs == [(_hour(2), 4.0, 1)]  # FOR '2 hours' reaches back to 02:00, not to 00:00
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.watermark == _hour(5)
    assert query.last_result is not None and query.last_result.startswith("ok: 3 windows")


def test_nothing_due_before_a_window_completes(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    runner = ContinuousRunner(weather)
    assert runner.run_due(clock()) == ["ndbc_hourly"]
    clock.advance(timedelta(minutes=40))  # 04:50: the window 04:00-05:00 is still open
    assert runner.run_due(clock()) == []


def test_scheduler_runs_only_active_queries(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    _statement(weather, HOURLY_CQ.replace("ndbc_hourly", "paused").replace("ndbc_1h", "paused_1h"))
    _statement(weather, "ALTER CONTINUOUS QUERY paused INACTIVE")
    clock.advance(INTERVAL)

    assert weather.scheduler is not None
    assert "continuous queries" in weather.scheduler.run_due()

    assert _select(weather, "weather", "SELECT count(*) FROM ndbc_1h")[0][0] > 0
    assert "paused_1h" not in weather.measurements.measurements("weather")
    paused = _queries(weather).get("paused")
    assert paused is not None
    assert (paused.watermark, paused.last_run, paused.last_result) == (None, None, None)


def test_restart_resumes_from_watermark(weather: Runtime, clock: ManualClock,
                                        start_runtime: Callable[[], Runtime]) -> None:
    _statement(weather, HOURLY_CQ.replace("FOR '2 hours' ", ""))
    ContinuousRunner(weather).run_due(clock())
    before = _select(weather, "weather", STORED_HOURLY)
    weather.close()

    restarted = start_runtime()
    clock.advance(timedelta(hours=2))  # 06:10: windows 04:00 and 05:00 are complete and empty
    outcome = ContinuousRunner(restarted).run("ndbc_hourly", clock())

    assert (outcome.windows, outcome.rows, outcome.first) == (2, 0, _hour(4))
    assert outcome.watermark == _hour(6)
    assert _select(restarted, "weather", STORED_HOURLY) == before


def test_failing_run_records_error_and_keeps_watermark(weather: Runtime, clock: ManualClock) -> None:
    # Daily buckets in hourly windows: every row lies outside its window.
    daily = HOURLY_SELECT.replace("INTERVAL '1 hour'", "INTERVAL '1 day'")
    _statement(weather, f"CREATE CONTINUOUS QUERY daily ON weather EVERY '1 hour' AS INSERT INTO ndbc_1d {daily}")
    clock.advance(INTERVAL)
    assert weather.scheduler is not None

    weather.scheduler.run_due()  # must not raise

    query = _queries(weather).get("daily")
    assert query is not None
    assert query.watermark is None
    assert query.last_run == NOAA_DONE
    assert query.last_result is not None
    assert query.last_result.startswith('error: continuous query "daily" returned a row at 2021-06-11T00:00:00+00:00')
    assert query.last_result.endswith("(SQLSTATE 22000)")
    assert "ndbc_1d" not in weather.measurements.measurements("weather")


def test_missing_source_fails_alone(weather: Runtime, clock: ManualClock) -> None:
    weather.writer.write_rows("weather", "gone", [{"time": _hour(1), "x": 1.0}])
    weather.writer.flush_all()
    _statement(weather, "CREATE CONTINUOUS QUERY gone_hourly ON weather EVERY '1 hour' AS INSERT INTO gone_1h "
               "SELECT time_bucket(INTERVAL '1 hour', time) AS time, avg(x) AS x FROM gone GROUP BY ALL")
    _statement(weather, HOURLY_CQ)
    session = Session(weather, "weather", "tester")
    session.run(session.prepare("DROP TABLE gone"), [])
    session.close()

    assert ContinuousRunner(weather).run_due(clock()) == ["gone_hourly", "ndbc_hourly"]

    failed = _queries(weather).get("gone_hourly")
    assert failed is not None
    assert failed.last_result == 'error: measurement "gone" does not exist (SQLSTATE 42P01)'
    assert failed.last_run == clock()
    assert failed.watermark is None
    ndbc = _queries(weather).get("ndbc_hourly")
    assert ndbc is not None
    assert ndbc.watermark == _hour(4)


def test_run_waits_for_another_holder(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    other_lease = acquire(weather.backend, "continuous", "ndbc_hourly", clock, holder="other-gateway")
    assert other_lease is not None
    with pytest.raises(GatewayError) as excinfo:
        _statement(weather, "EXECUTE CONTINUOUS QUERY ndbc_hourly")
    assert excinfo.value.sqlstate == "55P03"
    assert ContinuousRunner(weather).run_due(clock()) == []
    other_lease.release(clock())
    assert ContinuousRunner(weather).run_due(clock()) == ["ndbc_hourly"]


# ------------------------------------------------------------------ windows and files


def test_window_scan_reads_only_its_partitions(weather: Runtime) -> None:
    _statement(weather, HOURLY_CQ)
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    files = weather.measurements.files("weather", "ndbc", TimeRange())
    assert len(files.chosen) == 4

    result = ContinuousRunner(weather).evaluate(query, (_hour(1), _hour(2)))

    assert (result.files_read, result.files_total) == (1, 4)
    expected = [row for row in _expected(weather, "weather", "ndbc", HOURLY_SELECT, "time, station_pgm")
                if row[0] == _hour(1)]
    assert _rounded([tuple(row.values()) for row in result.table.sort_by("station_pgm").to_pylist()]) \
        == _rounded(expected)


def test_same_window_twice_leaves_no_duplicates(weather: Runtime) -> None:
    _statement(weather, HOURLY_CQ)
    backfill = "EXECUTE CONTINUOUS QUERY ndbc_hourly FROM '2021-06-11 01:00:00+00' TO '2021-06-11 03:00:00+00'"
    first = _table(_statement(weather, backfill)).to_pylist()
    stored = _select(weather, "weather", STORED_HOURLY)

    second = _table(_statement(weather, backfill)).to_pylist()

    assert first == second
    assert first[0]["windows"] == 2
    assert first[0]["rows"] == len(stored)
    assert _select(weather, "weather", STORED_HOURLY) == stored
    expected = [row for row in _expected(weather, "weather", "ndbc", HOURLY_SELECT, "time, station_pgm")
                if _hour(1) <= row[0] < _hour(3)]
    assert _rounded(stored) == _rounded(expected)


def test_backfill_of_one_month(start_runtime: Callable[[], Runtime], clock: ManualClock) -> None:
    runtime = start_runtime()
    _write_cpu_month(runtime)
    clock.set(datetime(2024, 2, 1, 0, 30, tzinfo=UTC))
    _statement(runtime, "CREATE CONTINUOUS QUERY cpu_hourly ON telemetry EVERY '1 day' "
               f"START '2024-01-20' AS INSERT INTO cpu_1h {CPU_SELECT}", "telemetry")
    ContinuousRunner(runtime).run_due(clock())  # 2024-01-20 to 2024-02-01: 12 daily windows

    outcome = _table(_statement(runtime, "EXECUTE CONTINUOUS QUERY cpu_hourly "
                                "FROM '2024-01-01' TO '2024-02-01'", "telemetry")).to_pylist()[0]

    expected = _expected(runtime, "telemetry", "cpu", CPU_SELECT, "time, hostname")
    assert len(expected) == 31 * 8 * 3
    assert outcome["windows"] == 31
    assert outcome["rows"] == len(expected)
    assert outcome["watermark"] == datetime(2024, 2, 1, tzinfo=UTC)
    stored = _select(runtime, "telemetry", "SELECT time, hostname, usage_user, usage_idle FROM cpu_1h ORDER BY time, hostname")
    assert _rounded(stored) == _rounded(expected)


def test_backfill_never_moves_watermark_back(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    ContinuousRunner(weather).run_due(clock())

    _statement(weather, "EXECUTE CONTINUOUS QUERY ndbc_hourly FROM '2021-06-11 00:00:00+00' TO '2021-06-11 01:00:00+00'")
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.watermark == _hour(4)

    clock.advance(timedelta(hours=3))  # 07:10
    _statement(weather, "EXECUTE CONTINUOUS QUERY ndbc_hourly FROM '2021-06-11 02:00:00+00' TO '2021-06-11 09:00:00+00'")
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.watermark == _hour(7)  # forward, but not past the last complete window


def test_backfill_after_gap_keeps_watermark(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ.replace("AS INSERT", "START '2021-06-11 01:00:00+00' AS INSERT"))
    clock.set(datetime(2021, 6, 11, 2, 10, tzinfo=UTC))
    ContinuousRunner(weather).run_due(clock())
    clock.set(NOAA_DONE)

    # A range after the watermark would leave a gap, so the watermark stays.
    _statement(weather, "EXECUTE CONTINUOUS QUERY ndbc_hourly FROM '2021-06-11 03:00:00+00' TO '2021-06-11 04:00:00+00'")

    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.watermark == _hour(2)


def test_dry_run_changes_nothing(weather: Runtime) -> None:
    _statement(weather, HOURLY_CQ)
    before = _queries(weather).get("ndbc_hourly")

    outcome = _table(_statement(weather, "EXECUTE CONTINUOUS QUERY ndbc_hourly DRY RUN")).to_pylist()[0]

    expected = _expected(weather, "weather", "ndbc", HOURLY_SELECT, "time, station_pgm")
    assert (outcome["windows"], outcome["rows"]) == (4, len(expected))
    assert (outcome["window_start"], outcome["window_end"], outcome["watermark"]) == (_hour(0), _hour(4), None)
    assert "ndbc_1h" not in weather.measurements.measurements("weather")
    assert _queries(weather).get("ndbc_hourly") == before


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("statement", "sqlstate"), [
    ("CREATE CONTINUOUS QUERY q ON weather EVERY 'soon' AS INSERT INTO d SELECT 1", "22007"),
    ("CREATE CONTINUOUS QUERY q ON weather EVERY '0 hours' AS INSERT INTO d " + HOURLY_SELECT, "22023"),
    ("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO ndbc " + HOURLY_SELECT, "42P17"),
    (("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO d "
     "SELECT station_pgm, count(*) AS n FROM ndbc GROUP BY ALL"), "42P17"),
    (("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO d "
     "SELECT time, wind_speed_mps FROM ndbc"), "42P17"),
    (("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO d "
     "SELECT time_bucket(INTERVAL '1 hour', time) AS time, count(*) AS n FROM missing GROUP BY ALL"), "42P01"),
    ("CREATE CONTINUOUS QUERY q ON nowhere EVERY '1 hour' AS INSERT INTO d " + HOURLY_SELECT, "3D000"),
    ("CREATE CONTINUOUS QUERY \"bad name\" ON weather EVERY '1 hour' AS INSERT INTO d " + HOURLY_SELECT, "42602"),
    ("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO \"bad/dest\" " + HOURLY_SELECT, "42602"),
    ("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO d SELECT FROM WHERE", "42601"),
    ("CREATE CONTINUOUS QUERY q ON weather AS INSERT INTO d " + HOURLY_SELECT, "42601"),
    ("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' START 'someday' AS INSERT INTO d " + HOURLY_SELECT,
     "22007"),
    (("CREATE CONTINUOUS QUERY q ON weather BEGIN SELECT mean(wind_speed_mps) INTO d FROM ndbc "
     "GROUP BY time(1h) fill(previous) END"), "0A000"),
    (("CREATE CONTINUOUS QUERY q ON weather EVERY '1 hour' AS INSERT INTO d SELECT time_bucket(INTERVAL "
      "'1 hour', time) AS time, avg(wind_speed_mps) AS w, max(wind_speed_mps) AS W FROM ndbc GROUP BY ALL"),
     "42P17"),
    (("CREATE CONTINUOUS QUERY q ON weather BEGIN SELECT mean(wind_speed_mps) INTO d FROM /nd.*/ "
      "GROUP BY time(1h) END"), "0A000"),
    ("ALTER CONTINUOUS QUERY nothing ACTIVE", "42704"),
    ("DROP CONTINUOUS QUERY nothing", "42704"),
    ("EXECUTE CONTINUOUS QUERY nothing", "42704"),
])
def test_bad_statement_stores_nothing(weather: Runtime, statement: str, sqlstate: str) -> None:
    listing = sorted(weather.backend.list(""))
    with pytest.raises(GatewayError) as excinfo:
        _statement(weather, statement)
    assert excinfo.value.sqlstate == sqlstate
    assert sorted(weather.backend.list("")) == listing


def test_duplicate_create_keeps_first(weather: Runtime) -> None:
    _statement(weather, HOURLY_CQ)
    first = _queries(weather).get("ndbc_hourly")
    with pytest.raises(GatewayError) as excinfo:
        _statement(weather, HOURLY_CQ.replace("EVERY '1 hour'", "EVERY '2 hours'"))
    assert excinfo.value.sqlstate == "42710"
    assert _queries(weather).get("ndbc_hourly") == first


# ------------------------------------------------------------------ stopping runs


def test_scheduled_run_resumes_after_time_limit(weather: Runtime, clock: ManualClock,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A long backfill is spread over checks, one group of windows each when the time is up at once."""
    monkeypatch.setattr(continuous, "GROUP_WINDOWS", 2)
    monkeypatch.setattr(continuous, "SCHEDULED_SECONDS", 0.0)
    _statement(weather, HOURLY_CQ)
    runner = ContinuousRunner(weather)
    clock.advance(INTERVAL)

    assert runner.run_due(clock()) == ["ndbc_hourly"]
    first = _queries(weather).get("ndbc_hourly")
    assert first is not None
    assert first.last_result is not None
    assert first.last_result.startswith("ok: 2 windows")
    assert first.last_result.endswith("more windows are due")

    runner.run_due(clock())
    second = _queries(weather).get("ndbc_hourly")
    assert second is not None and second.watermark == first.watermark + 2 * timedelta(hours=1)


def test_runs_stop_on_cancel_and_inactive(weather: Runtime, clock: ManualClock) -> None:
    _statement(weather, HOURLY_CQ)
    runner = ContinuousRunner(weather)
    listing = sorted(weather.backend.list("weather/"))

    with pytest.raises(GatewayError) as excinfo:
        runner.backfill("ndbc_hourly", _hour(0), _hour(6), clock(), cancelled=lambda: True)
    assert excinfo.value.sqlstate == "57014"
    with pytest.raises(GatewayError) as excinfo:
        runner.backfill("ndbc_hourly", _hour(0), _hour(6), clock(), dry_run=True, cancelled=lambda: True)
    assert excinfo.value.sqlstate == "57014"

    _statement(weather, "ALTER CONTINUOUS QUERY ndbc_hourly INACTIVE")
    with pytest.raises(continuous.QueryStopped):
        runner.run("ndbc_hourly", clock())  # as the scheduler runs it
    assert sorted(weather.backend.list("weather/")) == listing


class _Killed(BaseException):
    """Stands in for SIGKILL at one exact point, which a real kill cannot hit on demand."""


def test_crash_while_replacing_windows_is_recovered(weather: Runtime, clock: ManualClock,
                                                    start_runtime: Callable[[], Runtime],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _statement(weather, HOURLY_CQ)
    ContinuousRunner(weather).run_due(clock())
    before = _select(weather, "weather", STORED_HOURLY)
    watermark = _queries(weather).get("ndbc_hourly").watermark  # type: ignore[union-attr]
    assert before

    # The rerun deletes the stored windows, then "dies" before its new rows reach the writer.
    original = weather.writer.write_table

    def killed(database: str, measurement: str, table: pa.Table, **options: object) -> int:
        if measurement == "ndbc_1h":
            raise _Killed
        return original(database, measurement, table, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(weather.writer, "write_table", killed)
    with pytest.raises(_Killed):
        ContinuousRunner(weather).backfill("ndbc_hourly", _hour(0), _hour(4), clock())
    pending = _queries(weather).get("ndbc_hourly")
    assert pending is not None
    assert (pending.pending_start, pending.pending_end) == (_hour(0), _hour(4))
    assert "ndbc_1h" not in weather.measurements.measurements("weather")  # every stored window was deleted
    weather.close()

    restarted = start_runtime()
    restarted.recover_jobs()

    recovered = _queries(restarted).get("ndbc_hourly")
    assert recovered is not None
    assert (recovered.pending_start, recovered.pending_end) == (None, None)
    assert recovered.watermark == watermark
    assert _select(restarted, "weather", STORED_HOURLY) == before


def test_pending_windows_stored_by_next_check(weather: Runtime, clock: ManualClock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _statement(weather, HOURLY_CQ)
    ContinuousRunner(weather).run_due(clock())
    before = _select(weather, "weather", STORED_HOURLY)
    original = weather.writer.write_table
    failures = iter([True])

    def failing_once(database: str, measurement: str, table: pa.Table, **options: object) -> int:
        if measurement == "ndbc_1h" and next(failures, False):
            raise OSError("store unreachable")
        return original(database, measurement, table, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(weather.writer, "write_table", failing_once)
    with pytest.raises(OSError):
        ContinuousRunner(weather).backfill("ndbc_hourly", _hour(0), _hour(4), clock())
    assert "ndbc_1h" not in weather.measurements.measurements("weather")

    ContinuousRunner(weather).run_due(clock())

    assert _select(weather, "weather", STORED_HOURLY) == before
    query = _queries(weather).get("ndbc_hourly")
    assert query is not None
    assert query.pending_start is None
