"""TLS, SCRAM-SHA-256, md5 and the trust rule, driven through ``lakegate serve`` with psycopg, psql and raw sockets."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gateway.server.users import md5_hash
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget, free_port
from tests.tls_files import write_self_signed

ALICE_PASSWORD = "wonderland"  # plaintext in the users file
BOB_PASSWORD = "looking glass"  # stored as a SCRAM verifier
CAROL_PASSWORD = "tea party"  # stored as an md5 hash


# ---------------------------------------------------------------- fixtures


def _passwd(user: str, password: str, *extra: str) -> str:
    result = subprocess.run([sys.executable, "-m", "gateway", "passwd", user, *extra], input=password + "\n",
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def bob_line() -> str:
    return _passwd("bob", BOB_PASSWORD).strip()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_self_signed(tmp_path)


@pytest.fixture
def secure_gateway(
    local_storage_url: StorageTarget, tmp_path: Path, tls_files: tuple[Path, Path], bob_line: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[GatewayProcess]:
    """A gateway with TLS and users alice (plaintext) and bob (verifier), authenticating with SCRAM."""
    monkeypatch.delenv("LAKEGATE_USERS", raising=False)
    users = tmp_path / "users"
    users.write_text(f"# test users\nalice:{ALICE_PASSWORD}\n{bob_line}\n")
    cert, key = tls_files
    process = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", "--users-file", str(users),
                            "--tls-cert", str(cert), "--tls-key", str(key))
    yield process
    process.stop()


@pytest.fixture
def md5_gateway(
    local_storage_url: StorageTarget, tmp_path: Path, bob_line: str, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[GatewayProcess]:
    """A gateway without TLS whose users come from LAKEGATE_USERS, with ``--auth-method md5``."""
    carol_line = _passwd("carol", CAROL_PASSWORD, "--method", "md5").strip()
    monkeypatch.setenv("LAKEGATE_USERS", f"alice:{ALICE_PASSWORD}\n{bob_line}\n{carol_line}")
    process = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", "--auth-method", "md5")
    yield process
    process.stop()


def _dsn(gateway: GatewayProcess, user: str, password: str, **options: str) -> str:
    words = [f"host=127.0.0.1 port={gateway.port} dbname=telemetry user={user} password='{password}'"]
    words += [f"{name}={value}" for name, value in options.items()]
    return " ".join(words)


def _refused(gateway: GatewayProcess, message: str) -> str:
    return f'connection failed: connection to server at "127.0.0.1", port {gateway.port} failed: {message}'


def _psql(gateway: GatewayProcess, user: str, password: str, *args: str,
          **options: str) -> subprocess.CompletedProcess[str]:
    """Run psql with a connection string; ``options`` add libpq keywords, sslmode is ``disable`` unless given."""
    psql = shutil.which("psql")
    assert psql is not None, "psql is not installed; .ci/run installs postgresql-client"
    options.setdefault("sslmode", "disable")
    dsn = " ".join([f"host=127.0.0.1 port={gateway.port} dbname=telemetry user={user}",
                    *(f"{name}={value}" for name, value in options.items())])
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["PGPASSWORD"] = password
    return subprocess.run([psql, "-X", dsn, *args], capture_output=True, text=True, timeout=60, env=env,
                          check=False)


# ---------------------------------------------------------------- raw protocol


def _connect(gateway: GatewayProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=30)


def _send_startup(sock: socket.socket, user: str) -> None:
    params = f"user\0{user}\0database\0telemetry\0\0".encode()
    sock.sendall(struct.pack("!ii", len(params) + 8, 196608) + params)


def _receive(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    kind = _receive(sock, 1)
    length = struct.unpack("!i", _receive(sock, 4))[0]
    return kind, _receive(sock, length - 4)


def _send_password_message(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(b"p" + struct.pack("!i", len(payload) + 4) + payload)


def _error_fields(payload: bytes) -> dict[str, str]:
    return {field[:1]: field[1:] for field in payload.decode().split("\0") if field}


def _read_until_closed(sock: socket.socket) -> bytes:
    """Return what arrives before the server closes; a reset counts as closed."""
    data = b""
    try:
        while chunk := sock.recv(1024):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _request_code(gateway: GatewayProcess, code: int) -> bytes:
    with _connect(gateway) as sock:
        sock.sendall(struct.pack("!ii", 8, code))
        return sock.recv(1)


# ---------------------------------------------------------------- SCRAM-SHA-256


def test_scram_psycopg_right_password(secure_gateway: GatewayProcess) -> None:
    dsn = _dsn(secure_gateway, "alice", ALICE_PASSWORD, sslmode="disable", require_auth="scram-sha-256")
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
        assert connection.info.pgconn.used_password
        assert not connection.info.pgconn.ssl_in_use


def test_scram_verifier_from_passwd(secure_gateway: GatewayProcess, bob_line: str) -> None:
    assert re.fullmatch(r"bob:SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=",
                        bob_line)
    dsn = _dsn(secure_gateway, "bob", BOB_PASSWORD, sslmode="disable", require_auth="scram-sha-256")
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT 'bob in'").fetchone() == ("bob in",)


def test_scram_psycopg_wrong_password(secure_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(secure_gateway, "alice", "cheshire", sslmode="disable"))
    assert str(excinfo.value) == _refused(secure_gateway, 'FATAL:  password authentication failed for user "alice"')
    log = secure_gateway.log()
    assert 'rejected: 28P01 password authentication failed for user "alice" (password does not match)' in log
    assert "cheshire" not in log
    assert ALICE_PASSWORD not in log


def test_scram_psycopg_unknown_user(secure_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(secure_gateway, "mallory", ALICE_PASSWORD, sslmode="disable"))
    assert str(excinfo.value) == _refused(secure_gateway, 'FATAL:  password authentication failed for user "mallory"')
    assert 'rejected: 28P01 password authentication failed for user "mallory" (user does not exist)' \
        in secure_gateway.log()


def test_scram_psql(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "bob", BOB_PASSWORD, "-At", "-c", "SELECT 'in'")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "in\n"


def test_scram_psql_wrong_password(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "bob", "wrong", "-c", "SELECT 1")
    assert result.returncode == 2
    assert result.stderr == (f'psql: error: connection to server at "127.0.0.1", port {secure_gateway.port} '
                             'failed: FATAL:  password authentication failed for user "bob"\n')


def test_scram_psql_unknown_user(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "mallory", BOB_PASSWORD, "-c", "SELECT 1")
    assert result.returncode == 2
    assert result.stderr == (f'psql: error: connection to server at "127.0.0.1", port {secure_gateway.port} '
                             'failed: FATAL:  password authentication failed for user "mallory"\n')


def test_wrong_proof_is_fatal_28p01(secure_gateway: GatewayProcess) -> None:
    with _connect(secure_gateway) as sock:
        _send_startup(sock, "alice")
        kind, payload = _read_message(sock)
        assert (kind, payload) == (b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0")

        first = b"n,,n=,r=rawclientnonce"
        _send_password_message(sock, b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
        kind, payload = _read_message(sock)
        assert kind == b"R"
        assert payload[:4] == struct.pack("!i", 11)
        nonce = payload[4:].decode().split(",")[0]
        assert nonce.startswith("r=rawclientnonce")

        proof = base64.b64encode(bytes(32)).decode()
        _send_password_message(sock, f"c=biws,{nonce},p={proof}".encode())
        kind, payload = _read_message(sock)
        assert kind == b"E"
        assert _error_fields(payload) == {"S": "FATAL", "V": "FATAL", "C": "28P01",
                                          "M": 'password authentication failed for user "alice"'}
        assert sock.recv(1) == b""


def test_scram_plus_rejected(secure_gateway: GatewayProcess) -> None:
    with _connect(secure_gateway) as sock:
        _send_startup(sock, "alice")
        assert _read_message(sock)[0] == b"R"
        first = b"p=tls-server-end-point,,n=,r=rawclientnonce"
        _send_password_message(sock, b"SCRAM-SHA-256-PLUS\0" + struct.pack("!i", len(first)) + first)
        kind, payload = _read_message(sock)
        assert kind == b"E"
        fields = _error_fields(payload)
        assert (fields["S"], fields["C"]) == ("FATAL", "08P01")
        assert fields["M"] == "client selected an invalid SASL authentication mechanism"
        assert sock.recv(1) == b""


def test_channel_binding_required_fails(secure_gateway: GatewayProcess) -> None:
    dsn = _dsn(secure_gateway, "alice", ALICE_PASSWORD, sslmode="require", channel_binding="require")
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(dsn)
    assert str(excinfo.value) == _refused(
        secure_gateway,
        "channel binding is required, but server did not offer an authentication method that supports "
        "channel binding",
    )


# ---------------------------------------------------------------- TLS


def test_ssl_request_answered_s(secure_gateway: GatewayProcess) -> None:
    assert _request_code(secure_gateway, 80877103) == b"S"


def test_gssenc_request_answered_n(secure_gateway: GatewayProcess) -> None:
    assert _request_code(secure_gateway, 80877104) == b"N"


def test_ssl_request_inside_tls_rejected(secure_gateway: GatewayProcess) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with _connect(secure_gateway) as plain:
        plain.sendall(struct.pack("!ii", 8, 80877103))
        assert plain.recv(1) == b"S"
        with context.wrap_socket(plain) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            kind, payload = _read_message(sock)
            assert kind == b"E"
            assert _error_fields(payload) == {"S": "FATAL", "V": "FATAL", "C": "08P01",
                                              "M": "unsupported frontend protocol 1234.5679"}


def test_failed_handshake_closes_connection(secure_gateway: GatewayProcess) -> None:
    with _connect(secure_gateway) as sock:
        sock.sendall(struct.pack("!ii", 8, 80877103))
        assert sock.recv(1) == b"S"
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert _read_until_closed(sock) == b""
    dsn = _dsn(secure_gateway, "alice", ALICE_PASSWORD, sslmode="require")
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT 4").fetchone() == (4,)
    # The server closes the socket before it logs the failure.
    deadline = time.monotonic() + 10
    while "TLS handshake with ('127.0.0.1', " not in secure_gateway.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "TLS handshake with ('127.0.0.1', " in secure_gateway.log()


def test_tls_with_scram_psycopg(secure_gateway: GatewayProcess) -> None:
    dsn = _dsn(secure_gateway, "alice", ALICE_PASSWORD, sslmode="require", require_auth="scram-sha-256")
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.info.pgconn.ssl_in_use
        connection.execute("INSERT INTO cpu (time, usage) VALUES ('2024-01-01 00:00', 0.5)")
        assert connection.execute("SELECT usage FROM cpu").fetchall() == [(0.5,)]


def test_tls_cancel(secure_gateway: GatewayProcess) -> None:
    dsn = _dsn(secure_gateway, "alice", ALICE_PASSWORD, sslmode="require")
    with psycopg.connect(dsn, autocommit=True) as connection:
        timer = threading.Timer(1.0, connection.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            connection.execute("SELECT count(*) FROM range(10000000000) a, range(1000) b")
        timer.join()
        assert connection.execute("SELECT 3").fetchone() == (3,)


def test_tls_verify_full(secure_gateway: GatewayProcess, tls_files: tuple[Path, Path]) -> None:
    cert, _ = tls_files
    dsn = _dsn(secure_gateway, "bob", BOB_PASSWORD, sslmode="verify-full", sslrootcert=str(cert))
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.info.pgconn.ssl_in_use
        assert connection.execute("SELECT 2").fetchone() == (2,)


def test_tls_1_2_accepted(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "alice", ALICE_PASSWORD, "-c", r"\conninfo", sslmode="require",
                   ssl_max_protocol_version="TLSv1.2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("SSL connection (protocol: TLSv1.2, cipher: ")


def test_tls_wrong_password(secure_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(secure_gateway, "alice", "cheshire", sslmode="require"))
    assert str(excinfo.value) == _refused(secure_gateway, 'FATAL:  password authentication failed for user "alice"')


def test_tls_psql_conninfo(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "alice", ALICE_PASSWORD, "-c", r"\conninfo", sslmode="require")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (f'You are connected to database "telemetry" as user "alice" on host "127.0.0.1" '
                        f'at port "{secure_gateway.port}".')
    assert lines[1].startswith("SSL connection (protocol: TLSv1.3, cipher: ")
    assert len(lines) == 2


def test_psql_without_tls_on_tls_server(secure_gateway: GatewayProcess) -> None:
    result = _psql(secure_gateway, "alice", ALICE_PASSWORD, "-c", r"\conninfo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        (f'You are connected to database "telemetry" as user "alice" on host "127.0.0.1" '
         f'at port "{secure_gateway.port}".')
    ]


# ---------------------------------------------------------------- md5, LAKEGATE_USERS, no TLS


def test_md5_psycopg(md5_gateway: GatewayProcess) -> None:
    for user, password in (("alice", ALICE_PASSWORD), ("carol", CAROL_PASSWORD)):
        with psycopg.connect(_dsn(md5_gateway, user, password, require_auth="md5"), autocommit=True) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)


def test_md5_method_keeps_scram_for_verifiers(md5_gateway: GatewayProcess) -> None:
    dsn = _dsn(md5_gateway, "bob", BOB_PASSWORD, require_auth="scram-sha-256")
    with psycopg.connect(dsn, autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_md5_psql(md5_gateway: GatewayProcess) -> None:
    result = _psql(md5_gateway, "carol", CAROL_PASSWORD, "-At", "-c", "SELECT 'md5 in'")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "md5 in\n"


def test_md5_wrong_password(md5_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(md5_gateway, "carol", "coffee"))
    assert str(excinfo.value) == _refused(md5_gateway, 'FATAL:  password authentication failed for user "carol"')
    result = _psql(md5_gateway, "alice", "coffee", "-c", "SELECT 1")
    assert result.returncode == 2
    assert result.stderr == (f'psql: error: connection to server at "127.0.0.1", port {md5_gateway.port} '
                             'failed: FATAL:  password authentication failed for user "alice"\n')


def test_md5_unknown_user(md5_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(md5_gateway, "mallory", "coffee", require_auth="md5"))
    assert str(excinfo.value) == _refused(md5_gateway, 'FATAL:  password authentication failed for user "mallory"')


def test_md5_wrong_password_is_fatal_28p01(md5_gateway: GatewayProcess) -> None:
    with _connect(md5_gateway) as sock:
        _send_startup(sock, "carol")
        kind, payload = _read_message(sock)
        assert kind == b"R"
        assert payload[:4] == struct.pack("!i", 5)
        assert len(payload) == 8
        _send_password_message(sock, md5_hash("carol", "coffee").encode() + b"\0")
        kind, payload = _read_message(sock)
        assert kind == b"E"
        assert _error_fields(payload) == {"S": "FATAL", "V": "FATAL", "C": "28P01",
                                          "M": 'password authentication failed for user "carol"'}
        assert sock.recv(1) == b""


def test_md5_response_not_utf8_is_fatal(md5_gateway: GatewayProcess) -> None:
    with _connect(md5_gateway) as sock:
        _send_startup(sock, "carol")
        assert _read_message(sock)[0] == b"R"
        _send_password_message(sock, b"md5\xff\xfe\0")
        kind, payload = _read_message(sock)
        assert kind == b"E"
        fields = _error_fields(payload)
        assert (fields["S"], fields["C"]) == ("FATAL", "22021")
        assert sock.recv(1) == b""


def test_sslmode_require_without_tls_fails(md5_gateway: GatewayProcess) -> None:
    assert _request_code(md5_gateway, 80877103) == b"N"
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(_dsn(md5_gateway, "alice", ALICE_PASSWORD, sslmode="require"))
    assert str(excinfo.value) == _refused(md5_gateway, "server does not support SSL, but SSL was required")
    result = _psql(md5_gateway, "alice", ALICE_PASSWORD, "-c", "SELECT 1", sslmode="require")
    assert result.returncode == 2
    assert result.stderr == (f'psql: error: connection to server at "127.0.0.1", port {md5_gateway.port} '
                             "failed: server does not support SSL, but SSL was required\n")


# ---------------------------------------------------------------- start-up checks


def _serve_expecting_exit(storage: StorageTarget, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``lakegate serve`` with flags that must stop it before it listens; never connect to it."""
    env = {key: value for key, value in os.environ.items() if key != "LAKEGATE_USERS"}
    command = [sys.executable, "-m", "gateway", "serve", "--storage", storage.url, "--port", str(free_port()), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_remote_trust_refused(local_storage_url: StorageTarget) -> None:
    result = _serve_expecting_exit(local_storage_url, "--host", "0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        "ERROR gateway: no users are configured, so every client would connect without a password, and "
        "--host 0.0.0.0 accepts clients from other machines; give users with --users-file or LAKEGATE_USERS, "
        "or pass --allow-remote-trust to trust remote clients anyway"
    )
    assert "serving" not in result.stderr


def test_missing_tls_key_refused(local_storage_url: StorageTarget, tls_files: tuple[Path, Path]) -> None:
    cert, _ = tls_files
    result = _serve_expecting_exit(local_storage_url, "--tls-cert", str(cert))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith("ERROR gateway: --tls-cert and --tls-key must be given together")


def test_unreadable_tls_files_refused(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    result = _serve_expecting_exit(local_storage_url, "--tls-cert", str(tmp_path / "absent.crt"),
                                   "--tls-key", str(tmp_path / "absent.key"))
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        f"ERROR gateway: TLS file {tmp_path / 'absent.crt'} does not exist; check --tls-cert and --tls-key")
    assert "serving" not in result.stderr


def test_passwd_md5_line() -> None:
    assert _passwd("carol", CAROL_PASSWORD, "--method", "md5") == f"carol:{md5_hash('carol', CAROL_PASSWORD)}\n"

