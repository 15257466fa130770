"""Generated SQL against a real ``lakegate serve`` with a small loaded store, through psycopg.

Every statement must end with a result or an ErrorResponse whose SQLSTATE
has five characters and is not XX000 (internal error). The connection must
stay usable after each one, and the server must log no traceback. Valid
SELECTs must succeed and return the rows that DuckDB itself returns for the
same SQL over the same data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.e2e.gateway_process import GatewayProcess

DATABASE = "fuzz"
#: Destructive statements (DELETE, TRUNCATE, DROP, retention) touch only this database.
SCRATCH = "scratch"
START = datetime(2024, 1, 1, tzinfo=UTC)
CPU_COLUMNS = ["time", "host", "idle", "note", "region", "up", "usage"]
MEM_COLUMNS = ["time", "free", "host", "used"]
FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])

Row = tuple[object, ...]
Connection = psycopg.Connection[Row]


def _cpu_rows() -> list[Row]:
    rows: list[Row] = []
    for index in range(48):
        moment = START + timedelta(hours=index, minutes=(index * 7) % 60)
        host = "abc"[index % 3]
        note = None if index % 5 == 0 else f"note {index % 4}"
        rows.append((moment, host, index % 7, note, "eu" if index % 2 else "us", index % 3 != 0, index * 1.5))
    return rows


def _mem_rows() -> list[Row]:
    return [(START + timedelta(hours=index, minutes=30), 1000.0 - index * 10.25, "abc"[index % 3], index * 100)
            for index in range(24)]


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (datetime, str)):
        return "'" + str(value).replace("'", "''") + "'"
    return str(value)


def _insert(connection: Connection, table: str, columns: list[str], rows: list[Row]) -> None:
    values = ", ".join("(" + ", ".join(_literal(value) for value in row) + ")" for row in rows)
    connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")


@pytest.fixture(scope="module")
def loaded_gateway(module_gateway: GatewayProcess) -> GatewayProcess:
    """The module's gateway with ``fuzz.cpu`` (48 rows), ``fuzz.mem`` (24 rows) and the same in ``scratch``."""
    with psycopg.connect(f"{module_gateway.dsn} dbname={DATABASE}", autocommit=True) as connection:
        for database in (DATABASE, SCRATCH):
            _insert(connection, f"{database}.cpu", CPU_COLUMNS, _cpu_rows())
            _insert(connection, f"{database}.mem", MEM_COLUMNS, _mem_rows())
        connection.execute("CHECKPOINT")
        assert connection.execute("SELECT count(*) FROM cpu").fetchone() == (48,)
    return module_gateway


@pytest.fixture(scope="module")
def oracle() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-process DuckDB holding the same rows as ``fuzz``, in the column order the gateway uses."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"CREATE SCHEMA {DATABASE}")
    connection.execute(f"CREATE TABLE {DATABASE}.cpu (time TIMESTAMPTZ, host VARCHAR, idle BIGINT, note VARCHAR, "
                       "region VARCHAR, up BOOLEAN, usage DOUBLE)")
    connection.execute(f"CREATE TABLE {DATABASE}.mem (time TIMESTAMPTZ, free DOUBLE, host VARCHAR, used BIGINT)")
    connection.executemany(f"INSERT INTO {DATABASE}.cpu VALUES (?, ?, ?, ?, ?, ?, ?)", _cpu_rows())
    connection.executemany(f"INSERT INTO {DATABASE}.mem VALUES (?, ?, ?, ?)", _mem_rows())
    connection.execute(f"USE {DATABASE}")
    yield connection
    connection.close()


# ---------------------------------------------------------------- running statements


def _run_checked(gateway: GatewayProcess, statements: Sequence[str], database: str = DATABASE, *,
                 extended: bool = False) -> list[object]:
    """Run ``statements`` on one connection; return each one's rows or psycopg error, checking the contract.

    The server's log must gain no traceback while they run: an unexpected
    exception logs one even when the client gets a proper SQLSTATE. With
    ``extended`` the statements go through Parse, Bind and Execute as named
    prepared statements; otherwise through the simple Query message.
    """
    log_size = len(gateway.log())
    outcomes: list[object] = []
    with psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True) as connection:
        for sql in statements:
            outcomes.append(_run_one(connection, sql, extended))
            assert not connection.closed, sql
            assert connection.execute("SELECT 1").fetchone() == (1,), sql
    assert gateway.process.poll() is None
    assert "Traceback" not in gateway.log()[log_size:], statements
    return outcomes


def _run_one(connection: Connection, sql: str, extended: bool) -> object:
    try:
        cursor = connection.execute(sql, prepare=extended)
        return cursor.fetchall() if cursor.description is not None else cursor.statusmessage
    except psycopg.Error as error:
        assert error.sqlstate is not None, f"{sql!r}: no SQLSTATE ({error})"
        assert len(error.sqlstate) == 5, sql
        assert error.sqlstate != "XX000", f"{sql!r}: {error}"
        return error


# ---------------------------------------------------------------- valid SELECTs


_NUMERIC = {"cpu": ["idle", "usage"], "mem": ["free", "used"]}
_TEXT = {"cpu": ["host", "region", "note"], "mem": ["host"]}
_ALL = {"cpu": CPU_COLUMNS, "mem": MEM_COLUMNS}


@st.composite
def _predicate(draw: st.DrawFn, table: str) -> str:
    kind = draw(st.sampled_from(["time", "number", "text", "null", "in", "between", "bool"]))
    if kind == "bool" and table != "cpu":
        kind = "number"
    if kind == "time":
        low = draw(st.integers(-5, 50))
        high = low + draw(st.integers(0, 30))
        return (f"time >= '{(START + timedelta(hours=low)).isoformat()}' "
                f"AND time < '{(START + timedelta(hours=high)).isoformat()}'")
    if kind in ("number", "between"):
        column = draw(st.sampled_from(_NUMERIC[table]))
        value = draw(st.integers(-10, 80))
        if kind == "between":
            return f"{column} BETWEEN {value} AND {value + draw(st.integers(0, 40))}"
        return f"{column} {draw(st.sampled_from(['=', '<>', '<', '<=', '>', '>=']))} {value}"
    if kind == "text":
        column = draw(st.sampled_from(_TEXT[table]))
        return f"{column} {draw(st.sampled_from(['=', '<>', '>']))} '{draw(st.sampled_from(['a', 'b', 'eu', 'x']))}'"
    if kind == "null":
        column = draw(st.sampled_from(_ALL[table]))
        return f"{column} IS {draw(st.sampled_from(['NULL', 'NOT NULL']))}"
    if kind == "in":
        return f"host IN ({', '.join(repr(host) for host in draw(st.lists(st.sampled_from('abcz'), min_size=1)))})"
    return draw(st.sampled_from(["up", "NOT up", "up IS TRUE"]))


def _where(draw: st.DrawFn, table: str) -> str:
    predicates = draw(st.lists(_predicate(table), max_size=3))
    if not predicates:
        return ""
    joiner = draw(st.sampled_from([" AND ", " OR "]))
    return " WHERE " + joiner.join(f"({predicate})" for predicate in predicates)


@st.composite
def valid_selects(draw: st.DrawFn) -> str:
    """A SELECT over ``cpu`` or ``mem`` whose rows are fully ordered, so results compare exactly."""
    table = draw(st.sampled_from(["cpu", "mem"]))
    source = draw(st.sampled_from([table, f"{DATABASE}.{table}"]))
    where = _where(draw, table)
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(["host", "date_trunc('day', time)"]
                                             + (["region", "up"] if table == "cpu" else [])),
                             min_size=1, max_size=2, unique=True))
        aggregates = draw(st.lists(st.sampled_from(
            ["count(*)", "count(DISTINCT host)", "min(time)", "max(time)"]
            + [f"{name}({column})" for name in ("sum", "min", "max", "avg") for column in _NUMERIC[table]]),
            min_size=1, max_size=3))
        items = keys + aggregates
        having = f" HAVING count(*) > {draw(st.integers(0, 5))}" if draw(st.booleans()) else ""
        group = " GROUP BY " + ", ".join(keys) + having
    else:
        items = draw(st.lists(st.sampled_from(
            _ALL[table] + [f"{column} * 2" for column in _NUMERIC[table]] + ["upper(host)", "length(host)",
                                                                           "extract(hour FROM time)"]),
            min_size=1, max_size=4))
        if draw(st.integers(0, 9)) == 0:
            items = ["*"]
        group = ""
    positions = len(_ALL[table]) if items == ["*"] else len(items)
    order = " ORDER BY " + ", ".join(f"{position} NULLS FIRST" for position in range(1, positions + 1))
    limit = f" LIMIT {draw(st.integers(0, 60))}" if draw(st.booleans()) else ""
    return f"SELECT {', '.join(items)} FROM {source}{where}{group}{order}{limit}"


def _normalise(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def _same_rows(actual: list[Row], expected: list[Row]) -> bool:
    if len(actual) != len(expected):
        return False
    for got_row, want_row in zip(actual, expected, strict=True):
        for got, want in zip(map(_normalise, got_row), map(_normalise, want_row), strict=True):
            if isinstance(got, float) and isinstance(want, (float, int)):
                if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif got != want:
                return False
    return True


@settings(FUZZ_SETTINGS, max_examples=60)
@given(statements=st.lists(valid_selects(), min_size=8, max_size=12), extended=st.booleans())
def test_valid_selects_match_duckdb(statements: list[str], extended: bool, loaded_gateway: GatewayProcess,
                                    oracle: duckdb.DuckDBPyConnection) -> None:
    outcomes = _run_checked(loaded_gateway, statements, extended=extended)
    for sql, outcome in zip(statements, outcomes, strict=True):
        assert isinstance(outcome, list), f"{sql}: {outcome}"
        expected = oracle.execute(sql).fetchall()
        assert _same_rows(outcome, expected), f"{sql}\ngateway: {outcome}\nduckdb:  {expected}"


# ---------------------------------------------------------------- almost valid and nonsense


_TOKENS = ["SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "(", ")", ",", "'", '"', "*", ";", "AND",
           "OR", "NOT", "NULL", "::", "time", "cpu", "mem", "count", "1", "-", "$1", "[", "]", "JOIN", "ON",
           "UNION", "INTERVAL", "'2024-01-01'", "CAST", "AS", "INTEGER", "E'\\\\'", "/*", "*/", "--", "\n"]


@st.composite
def almost_valid(draw: st.DrawFn) -> str:
    """A valid SELECT with one to three token edits: dropped, doubled, swapped, replaced, or cut short."""
    tokens = draw(valid_selects()).replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            break
        position = draw(st.integers(0, len(tokens) - 1))
        edit = draw(st.sampled_from(["drop", "double", "swap", "replace", "cut", "drop paren"]))
        if edit == "drop":
            del tokens[position]
        elif edit == "double":
            tokens.insert(position, tokens[position])
        elif edit == "swap" and position + 1 < len(tokens):
            tokens[position], tokens[position + 1] = tokens[position + 1], tokens[position]
        elif edit == "replace":
            tokens[position] = draw(st.sampled_from(_TOKENS))
        elif edit == "cut":
            tokens = tokens[:position]
        elif edit == "drop paren" and "(" in tokens + [")"]:
            paren = draw(st.sampled_from(["(", ")"]))
            if paren in tokens:
                tokens.remove(paren)
    return " ".join(tokens)


_TEXT_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@settings(FUZZ_SETTINGS, max_examples=90)
@given(statements=st.lists(almost_valid(), min_size=8, max_size=12))
def test_almost_valid_selects(statements: list[str], loaded_gateway: GatewayProcess) -> None:
    _run_checked(loaded_gateway, statements)


@settings(FUZZ_SETTINGS, max_examples=80)
@given(statements=st.lists(
    st.text(_TEXT_ALPHABET, min_size=1, max_size=200)
    | st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=25).map(" ".join),
    min_size=8, max_size=12))
# sqlglot's parser raised AttributeError on this one (a CI run found it).
@example(statements=["?[NOT"])
def test_nonsense_text(statements: list[str], loaded_gateway: GatewayProcess) -> None:
    _run_checked(loaded_gateway, statements)


# ---------------------------------------------------------------- extension statements


_NAMES = st.sampled_from(["p1", "p2", "q1", "cpu", "mem", "nope", '"Odd Name"', "x" * 70, "_hidden", "1bad"])
_MEASUREMENTS = st.sampled_from(["cpu", "mem", "missing", f"{SCRATCH}.cpu", f"{SCRATCH}.mem", "nodb.cpu",
                                 '"cpu"', "cpu-2", "../x"])
_DURATIONS = st.sampled_from(["'30 days'", "'1 hour'", "30d", "12h", "'0 days'", "'1 month'", "'-1 day'", "'abc'",
                              "1w", "'2 hours 30 minutes'", "''", "5"])
_TIMES = st.sampled_from(["'2024-01-01'", "'2024-01-01 06:00:00+00'", "'2024-01-02'", "'yesterday noonish'",
                          "'2023-12-31 23:00:00+00'", "now()", "'2024-01-01 12:00'"])


@st.composite
def extension_statements(draw: st.DrawFn) -> str:
    """One of the gateway's own statements, with valid and invalid names, durations and times."""
    name, measurement, duration = draw(_NAMES), draw(_MEASUREMENTS), draw(_DURATIONS)
    start, end = draw(_TIMES), draw(_TIMES)
    dry = draw(st.sampled_from(["", " DRY RUN"]))
    every = draw(st.sampled_from(["'1 hour'", "'1 day'", "1h"]))
    condition = draw(st.sampled_from(["host = 'a'", "usage > 60", "true", "time < '2024-01-01 03:00'", "nosuch = 1"]))
    forms = [
        "SHOW DATABASES", "SHOW TABLES", f"SHOW TABLES FROM {SCRATCH}", "SHOW MEASUREMENTS",
        f"SHOW MEASUREMENTS FROM {draw(st.sampled_from([SCRATCH, 'nodb', '1x']))}",
        f"SHOW COLUMNS FROM {measurement}",
        f"CREATE RETENTION POLICY {name} ON {SCRATCH} DURATION {duration}",
        f"CREATE RETENTION POLICY {name} ON {SCRATCH}.{draw(_NAMES)} DURATION {duration} BUFFER {draw(_DURATIONS)}",
        f"ALTER RETENTION POLICY {name} SET DURATION {duration}",
        f"ALTER RETENTION POLICY {name} {draw(st.sampled_from(['ACTIVE', 'INACTIVE', 'SIDEWAYS']))}",
        f"DROP RETENTION POLICY {draw(st.sampled_from(['', 'IF EXISTS ']))}{name}",
        f"SHOW RETENTION POLICIES{draw(st.sampled_from(['', f' ON {SCRATCH}', ' ON nodb']))}",
        f"EXECUTE RETENTION POLICY {name}{dry}",
        f"CREATE CONTINUOUS QUERY {name} ON {SCRATCH} EVERY {every} "
        f"AS INSERT INTO {draw(st.sampled_from(['cpu_hourly', 'mem_daily', 'cpu']))} "
        f"SELECT date_trunc('hour', time) AS time, host, avg(usage) AS usage FROM {measurement} GROUP BY 1, 2",
        f"CREATE CONTINUOUS QUERY {name} ON {SCRATCH} BEGIN SELECT mean(usage) INTO cpu_1h FROM cpu "
        f"GROUP BY time({draw(st.sampled_from(['1h', '1d', '0s', 'x']))}), host END",
        "SHOW CONTINUOUS QUERIES",
        f"DROP CONTINUOUS QUERY {draw(st.sampled_from(['', 'IF EXISTS ']))}{name}",
        f"ALTER CONTINUOUS QUERY {name} {draw(st.sampled_from(['ACTIVE', 'INACTIVE', 'LOUDLY']))}",
        f"EXECUTE CONTINUOUS QUERY {name} FROM {start} TO {end}{dry}",
        f"DELETE FROM {measurement} WHERE {condition}",
        f"DELETE FROM {measurement}",
        f"EXPLAIN DELETE FROM {measurement} WHERE host = 'b'",
        f"TRUNCATE {draw(st.sampled_from([f'{SCRATCH}.mem', 'missing', f'{SCRATCH}.nothing']))}",
        f"EXPLAIN SELECT count(*) FROM {measurement} WHERE time >= {start} AND time < {end}",
        f"EXPLAIN ANALYZE SELECT host FROM {measurement}",
        f"DROP TABLE {draw(st.sampled_from(['', 'IF EXISTS ']))}{SCRATCH}.{draw(_NAMES)}",
        f"CREATE DATABASE {draw(st.sampled_from(['', 'IF NOT EXISTS ']))}{draw(_NAMES)}",
        f"INSERT INTO {measurement} (time, host, usage) VALUES ({start}, 'z', {draw(st.integers(-5, 5))})",
    ]
    return draw(st.sampled_from(forms))


@settings(FUZZ_SETTINGS, max_examples=90)
@given(statements=st.lists(extension_statements(), min_size=8, max_size=12))
def test_extension_statements(statements: list[str], loaded_gateway: GatewayProcess) -> None:
    _run_checked(loaded_gateway, statements, database=SCRATCH)


# ---------------------------------------------------------------- long and deep input


@st.composite
def long_statements(draw: st.DrawFn) -> str:
    """Very long identifiers and literals, many columns, and deeply nested expressions."""
    size = draw(st.sampled_from([64, 65, 300, 5_000, 100_000]))
    letters = draw(st.sampled_from(["x", "é", "Z_9", "ü"]))
    word = (letters * size)[:size]
    depth = draw(st.sampled_from([10, 100, 500, 2_000, 20_000]))
    forms = [
        f"SELECT 1 AS {word}",
        f'SELECT 1 AS "{word}"',
        f"SELECT {word} FROM cpu",
        f"SELECT * FROM {word}",
        f'SELECT * FROM "{word}"',
        f"SELECT length('{word}')",
        f"SELECT host FROM cpu WHERE note = '{word}'",
        f"SELECT {'9' * size}",
        f"SELECT {'9' * size}.5",
        f"SHOW TABLES FROM {word}",
        f"SHOW COLUMNS FROM {word}",
        f"CREATE RETENTION POLICY {word} ON {SCRATCH} DURATION '1 day'",
        f"DROP RETENTION POLICY IF EXISTS {word}",
        f"SELECT {'(' * depth}1{')' * depth}",
        f"SELECT {' + '.join(['1'] * depth)}",
        f"SELECT count(*) FROM cpu WHERE {' OR '.join(f'idle = {index}' for index in range(depth))}",
        f"SELECT {', '.join(f'{index} AS c{index}' for index in range(min(depth, 5_000)))}",
        "SELECT " + "ARRAY[" * min(depth, 3_000) + "1" + "]" * min(depth, 3_000),
        f"SELECT {'NOT ' * depth}true",
        f"SELECT {'-' * depth}1",
        f"SELECT 1 {'; SELECT 1' * min(depth, 2_000)}",
    ]
    return draw(st.sampled_from(forms))


@settings(FUZZ_SETTINGS, max_examples=40)
@given(statements=st.lists(long_statements(), min_size=3, max_size=5))
def test_long_and_deep_statements(statements: list[str], loaded_gateway: GatewayProcess) -> None:
    _run_checked(loaded_gateway, statements)


@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * 500 + "1" + ")" * 500,
    "SELECT " + "NOT " * 2_000 + "true",
    "SELECT * FROM " + "(SELECT * FROM " * 300 + "cpu" + ") AS t" * 300,
])
def test_deep_nesting_statement_too_complex(sql: str, loaded_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{loaded_gateway.dsn} dbname={DATABASE}", autocommit=True) as connection:
        with pytest.raises(psycopg.errors.StatementTooComplex) as excinfo:
            connection.execute(sql)
        assert excinfo.value.sqlstate == "54001"
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_long_or_chain_answers(loaded_gateway: GatewayProcess) -> None:
    sql = "SELECT count(*) FROM cpu WHERE " + " OR ".join(f"idle = {index}" for index in range(3_000))
    with psycopg.connect(f"{loaded_gateway.dsn} dbname={DATABASE}", autocommit=True) as connection:
        assert connection.execute(sql).fetchone() == (48,)
