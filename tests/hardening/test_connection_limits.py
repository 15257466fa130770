"""Connection limits of ``lakegate serve``: --max-connections, --idle-session-timeout and --statement-timeout."""

from __future__ import annotations

import argparse
import select
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from gateway.cli import build_parser
from tests.e2e.gateway_process import GatewayProcess
from tests.hardening.wire_client import (
    REPLY_TIMEOUT,
    closed_by_server,
    connect,
    read_message,
    startup_packet,
)

LONG_QUERY = "SELECT count(*) FROM range(10000000000) a, range(1000) b"

Launcher = Callable[..., GatewayProcess]


def _connect(gateway: GatewayProcess) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True)


def _connect_when_a_slot_frees(gateway: GatewayProcess) -> psycopg.Connection[tuple[object, ...]]:
    """Connect, retrying while the server has not yet seen the Terminate of a client that just left."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        try:
            return _connect(gateway)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_until_readable(connection: psycopg.Connection[tuple[object, ...]]) -> bool:
    readable, _, _ = select.select([connection.fileno()], [], [], REPLY_TIMEOUT)
    return bool(readable)


def test_max_connections_rejects_extra_client(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher("--max-connections", "2")
    first = _connect(gateway)
    second = _connect(gateway)

    with pytest.raises(psycopg.OperationalError, match="sorry, too many clients already"):
        _connect(gateway)

    sock = connect(gateway.port)
    sock.sendall(startup_packet())
    error = read_message(sock)
    assert error is not None
    assert error.kind == b"E"
    assert error.fields()["C"] == "53300"
    assert error.fields()["S"] == "FATAL"
    assert error.fields()["M"] == "sorry, too many clients already"
    assert closed_by_server(sock)
    sock.close()

    assert first.execute("SELECT 1").fetchone() == (1,)
    assert second.execute("SELECT 2").fetchone() == (2,)
    first.close()
    third = _connect_when_a_slot_frees(gateway)
    assert third.execute("SELECT 3").fetchone() == (3,)
    with pytest.raises(psycopg.OperationalError, match="sorry, too many clients already"):
        _connect(gateway)
    second.close()
    third.close()


def test_max_connections_cancel_request_not_counted(gateway_launcher: Launcher) -> None:
    # The statement timeout only bounds the test if the cancel requests never arrive.
    gateway = gateway_launcher("--max-connections", "1", "--statement-timeout", "2min")
    with _connect(gateway) as connection:
        errors: list[psycopg.Error] = []

        def run_long_query() -> None:
            try:
                connection.execute(LONG_QUERY)
            except psycopg.Error as error:
                errors.append(error)

        runner = threading.Thread(target=run_long_query)
        runner.start()
        # The one slot is taken, so each cancel request reaches the session
        # only if it does not count as a client. A cancel that arrives before
        # the query starts is lost, so it is repeated until the query ends.
        deadline = time.monotonic() + REPLY_TIMEOUT
        while runner.is_alive() and time.monotonic() < deadline:
            connection.cancel_safe(timeout=REPLY_TIMEOUT)
            runner.join(0.2)
        runner.join()

        assert len(errors) == 1
        assert isinstance(errors[0], psycopg.errors.QueryCanceled)
        assert errors[0].sqlstate == "57014"
        assert str(errors[0]) == "canceling statement due to user request"
        assert connection.execute("SELECT 4").fetchone() == (4,)


def test_idle_session_timeout_from_flag(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher("--idle-session-timeout", "300ms")
    with _connect(gateway) as survivor:
        survivor.execute("SET idle_session_timeout = 0")
        idle = _connect(gateway)
        assert idle.execute("SHOW idle_session_timeout").fetchone() == ("300ms",)

        assert _wait_until_readable(idle)
        with pytest.raises(psycopg.errors.IdleSessionTimeout) as excinfo:
            idle.execute("SELECT 1")
        assert excinfo.value.sqlstate == "57P05"
        assert idle.closed
        assert survivor.execute("SELECT 5").fetchone() == (5,)


def test_idle_session_timeout_set_per_session(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher()
    with _connect(gateway) as survivor, _connect(gateway) as idle:
        assert idle.execute("SHOW idle_session_timeout").fetchone() == ("0",)
        assert idle.execute("SET idle_session_timeout = '250ms'").statusmessage == "SET"
        assert idle.execute("SHOW idle_session_timeout").fetchone() == ("250ms",)

        assert _wait_until_readable(idle)
        with pytest.raises(psycopg.errors.IdleSessionTimeout):
            idle.execute("SELECT 1")
        assert survivor.execute("SELECT 6").fetchone() == (6,)


def test_idle_session_timeout_raw_error(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher("--idle-session-timeout", "200ms")
    sock = connect(gateway.port)
    sock.sendall(startup_packet())
    kinds = []
    while (message := read_message(sock)) is not None:
        kinds.append(message.kind)
        last = message
    assert kinds[-2:] == [b"Z", b"E"]
    assert last.fields()["S"] == "FATAL"
    assert last.fields()["C"] == "57P05"
    assert last.fields()["M"] == "terminating connection due to idle-session timeout"
    sock.close()


def test_idle_session_timeout_spares_transaction(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher("--idle-session-timeout", "200ms")
    with psycopg.connect(f"{gateway.dsn} dbname=telemetry") as connection:
        assert connection.execute("SELECT 7").fetchone() == (7,)
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        # Five times the timeout inside a transaction: the server must not close the session.
        readable, _, _ = select.select([connection.fileno()], [], [], 1.0)
        assert readable == []
        assert connection.execute("SELECT 8").fetchone() == (8,)
        connection.commit()
        assert _wait_until_readable(connection)
        with pytest.raises(psycopg.errors.IdleSessionTimeout):
            connection.execute("SELECT 9")


def test_idle_session_timeout_invalid_values(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher()
    with _connect(gateway) as connection:
        for value in ("'5 fortnights'", "'-1'", "'30 days'", "'abc'"):
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                connection.execute(f"SET idle_session_timeout = {value}")
        assert connection.execute("SHOW idle_session_timeout").fetchone() == ("0",)


def test_statement_timeout_from_flag(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher("--statement-timeout", "400ms")
    with _connect(gateway) as survivor, _connect(gateway) as connection:
        assert connection.execute("SHOW statement_timeout").fetchone() == ("400ms",)
        with pytest.raises(psycopg.errors.QueryCanceled) as excinfo:
            connection.execute(LONG_QUERY)
        assert excinfo.value.sqlstate == "57014"
        assert connection.execute("SELECT 10").fetchone() == (10,)
        assert survivor.execute("SELECT 11").fetchone() == (11,)

        connection.execute("SET statement_timeout = '2min'")
        assert connection.execute("SHOW statement_timeout").fetchone() == ("2min",)
        assert survivor.execute("SHOW statement_timeout").fetchone() == ("400ms",)


def test_statement_timeout_off_by_default(gateway_launcher: Launcher) -> None:
    gateway = gateway_launcher()
    with _connect(gateway) as connection:
        assert connection.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert connection.execute("SHOW idle_session_timeout").fetchone() == ("0",)


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--statement-timeout", "500ms", 500),
    ("--statement-timeout", "30s", 30_000),
    ("--statement-timeout", "1500", 1500),
    ("--idle-session-timeout", "5min", 300_000),
    ("--idle-session-timeout", "0", 0),
    ("--max-connections", "7", 7),
])
def test_limit_flags_parse(flag: str, value: str, expected: int) -> None:
    args = build_parser().parse_args(["serve", "--storage", "./data", flag, value])
    assert vars(args)[flag[2:].replace("-", "_")] == expected


@pytest.mark.parametrize(("flag", "value"), [
    ("--statement-timeout", "-5"),
    ("--statement-timeout", "5 fortnights"),
    ("--idle-session-timeout", "30d"),
    ("--max-connections", "0"),
])
def test_limit_flags_reject_invalid(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args(["serve", "--storage", "./data", flag, value])
    assert excinfo.value.code == 2
    assert flag in capsys.readouterr().err


def test_limit_flag_defaults() -> None:
    args: argparse.Namespace = build_parser().parse_args(["serve", "--storage", "./data"])
    assert args.max_connections == 100
    assert args.statement_timeout == 0
    assert args.idle_session_timeout == 0
