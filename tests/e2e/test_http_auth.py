"""Token authentication of the HTTP write endpoint, against a real gateway process.

Most requests go through http.client with the headers and query
parameters that InfluxDB clients send; one test writes with the
influxdb-client package itself.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget, free_port

WRITER_TOKEN = "writer-7f3a9c1e5b"
OTHER_TOKEN = "ci-2d8e4b6a0c"
ENV_TOKEN = "env-91b5c7d3e2"
WRONG_TOKEN = "writer-7f3a9c1e5c"
LINE = b"cpu,host=a usage=1.5,count=3i 1700000000000000000\n"


def _request(gateway: GatewayProcess, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _basic_header(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _query(gateway: GatewayProcess, sql: str, user: str = "tester", password: str = "") -> list[tuple[object, ...]]:
    dsn = f"host=127.0.0.1 port={gateway.port} dbname=metrics user={user} password='{password}'"
    with psycopg.connect(dsn, autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEGATE_USERS", raising=False)
    monkeypatch.delenv("LAKEGATE_HTTP_TOKENS", raising=False)


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "http-tokens"
    path.write_text(f"# writers\n{WRITER_TOKEN}\n\n  {OTHER_TOKEN}  \n")
    return path


@pytest.fixture
def token_gateway(local_storage_url: StorageTarget, tmp_path: Path, tokens_file: Path,
                  clean_environment: None) -> Iterator[GatewayProcess]:
    """A gateway without users whose HTTP writes need a token from ``tokens_file``; it logs at DEBUG."""
    process = start_gateway(local_storage_url.settings, tmp_path / "gateway.log",
                            "--http-tokens-file", str(tokens_file), "--log-level", "DEBUG")
    yield process
    process.stop()


def test_token_header_write_is_stored(token_gateway: GatewayProcess) -> None:
    status, _, body = _request(token_gateway, "POST", "/api/v2/write?bucket=metrics&org=o&precision=ns", LINE,
                               _token_header(WRITER_TOKEN))
    assert status == 204, body
    assert body == b""
    assert _query(token_gateway, "SELECT time, host, usage, count FROM cpu") == [
        (datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), "a", 1.5, 3)]


def test_influxdb_client_writes(token_gateway: GatewayProcess) -> None:
    url = f"http://127.0.0.1:{token_gateway.http_port}"
    with InfluxDBClient(url=url, token=WRITER_TOKEN, org="o") as client:
        writer = client.write_api(write_options=SYNCHRONOUS)
        writer.write(bucket="metrics", record=[
            Point("cpu").tag("host", "x y,z").field("usage", 0.25).field("count", 7)
            .time(datetime(2024, 1, 1, tzinfo=UTC), WritePrecision.S),
            "cpu,host=b usage=0.5,count=8i 1704067201",
        ], write_precision=WritePrecision.S)
        assert client.ping()
    with InfluxDBClient(url=url, token=WRONG_TOKEN, org="o") as client:
        with pytest.raises(InfluxDBError) as raised:
            client.write_api(write_options=SYNCHRONOUS).write(bucket="metrics", record="cpu usage=1 1704067202",
                                                             write_precision=WritePrecision.S)
        assert raised.value.response.status == 401
    assert _query(token_gateway, "SELECT time, host, usage, count FROM cpu ORDER BY time") == [
        (datetime(2024, 1, 1, tzinfo=UTC), "x y,z", 0.25, 7),
        (datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), "b", 0.5, 8)]


def test_second_token_and_v1_route(token_gateway: GatewayProcess) -> None:
    status, _, body = _request(token_gateway, "POST", "/write?db=metrics", LINE, _token_header(OTHER_TOKEN))
    assert status == 204, body
    assert _query(token_gateway, "SELECT host, usage, count FROM cpu") == [("a", 1.5, 3)]


def test_missing_token_rejected(token_gateway: GatewayProcess) -> None:
    for path in ("/write?db=metrics", "/api/v2/write?bucket=metrics"):
        status, headers, body = _request(token_gateway, "POST", path, LINE)
        assert status == 401, path
        assert headers["Content-Type"] == "application/json"
        assert headers["WWW-Authenticate"] == 'Token realm="lakegate"'
        assert json.loads(body)["code"] == "unauthorized"
    assert _query(token_gateway, "SHOW DATABASES") == []


def test_wrong_token_rejected(token_gateway: GatewayProcess) -> None:
    attempts = [
        ("/api/v2/write?bucket=metrics", _token_header(WRONG_TOKEN)),
        ("/write?db=metrics", _token_header(WRONG_TOKEN)),
        ("/write?db=metrics&u=telegraf&p=" + WRONG_TOKEN, {}),
        ("/write?db=metrics", _basic_header("telegraf", WRONG_TOKEN)),
        ("/write?db=metrics", {"Authorization": "Basic not-base64!"}),
        ("/write?db=metrics", {"Authorization": "Token"}),
    ]
    for path, headers in attempts:
        status, _, body = _request(token_gateway, "POST", path, LINE, headers)
        assert status == 401, (path, headers)
        assert json.loads(body) == {"code": "unauthorized", "message": "invalid credentials"}
    assert _query(token_gateway, "SHOW DATABASES") == []


def test_v1_query_credentials(token_gateway: GatewayProcess) -> None:
    status, _, body = _request(token_gateway, "POST", f"/write?db=metrics&u=telegraf&p={WRITER_TOKEN}", LINE)
    assert status == 204, body
    assert _query(token_gateway, "SELECT host, usage, count FROM cpu") == [("a", 1.5, 3)]


def test_v1_basic_credentials(token_gateway: GatewayProcess) -> None:
    status, _, body = _request(token_gateway, "POST", "/write?db=metrics", LINE,
                               _basic_header("telegraf", WRITER_TOKEN))
    assert status == 204, body
    assert _query(token_gateway, "SELECT host, usage, count FROM cpu") == [("a", 1.5, 3)]


def test_v2_ignores_v1_credentials(token_gateway: GatewayProcess) -> None:
    status, _, _ = _request(token_gateway, "POST", f"/api/v2/write?bucket=metrics&p={WRITER_TOKEN}", LINE)
    assert status == 401
    status, _, body = _request(token_gateway, "POST", "/api/v2/write?bucket=metrics", LINE,
                               _basic_header("telegraf", WRITER_TOKEN))
    assert status == 401
    assert json.loads(body)["message"] == "missing credentials: send Authorization: Token <token>"


def test_ping_and_health_stay_open(token_gateway: GatewayProcess) -> None:
    assert _request(token_gateway, "GET", "/ping")[0] == 204
    status, _, body = _request(token_gateway, "GET", "/health")
    assert status == 200
    assert json.loads(body)["status"] == "pass"


def test_tokens_stay_out_of_log(token_gateway: GatewayProcess) -> None:
    _request(token_gateway, "POST", f"/write?db=metrics&u=telegraf&p={WRITER_TOKEN}", LINE)
    _request(token_gateway, "POST", f"/write?db=metrics&p={WRONG_TOKEN}", LINE)
    _request(token_gateway, "POST", "/write?db=metrics", LINE, _token_header(WRONG_TOKEN))
    token_gateway.stop()
    log = token_gateway.log()
    assert "HTTP write from 127.0.0.1 rejected: invalid credentials (1 rejected since start)" in log
    assert "/write?db=metrics&u=telegraf&p=[redacted]" in log
    for token in (WRITER_TOKEN, OTHER_TOKEN, WRONG_TOKEN):
        assert token not in log


def test_environment_tokens(local_storage_url: StorageTarget, tmp_path: Path, clean_environment: None,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEGATE_HTTP_TOKENS", f" {OTHER_TOKEN}, {ENV_TOKEN} ,")
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    try:
        assert _request(gateway, "POST", "/write?db=metrics", LINE, _token_header(WRITER_TOKEN))[0] == 401
        assert _request(gateway, "POST", "/write?db=metrics", LINE, _token_header(ENV_TOKEN))[0] == 204
        assert _query(gateway, "SELECT count(*) FROM cpu") == [(1,)]
    finally:
        gateway.stop()


def test_users_without_tokens_keep_http_off(local_storage_url: StorageTarget, tmp_path: Path,
                                            clean_environment: None) -> None:
    users = tmp_path / "users"
    users.write_text("alice:wonderland\n")
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", "--users-file", str(users))
    try:
        assert not _listening(gateway.http_port)
        assert ("WARNING gateway: HTTP write endpoint not started: users are configured but no HTTP tokens; "
                "configure --http-tokens-file or LAKEGATE_HTTP_TOKENS, or pass --no-http") in gateway.log()
    finally:
        gateway.stop()


def test_users_with_tokens_start_http(local_storage_url: StorageTarget, tmp_path: Path, tokens_file: Path,
                                      clean_environment: None) -> None:
    users = tmp_path / "users"
    users.write_text("alice:wonderland\n")
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", "--users-file", str(users),
                            "--http-tokens-file", str(tokens_file))
    try:
        assert _request(gateway, "POST", "/write?db=metrics", LINE)[0] == 401
        assert _request(gateway, "POST", "/write?db=metrics", LINE, _token_header(WRITER_TOKEN))[0] == 204
        rows = _query(gateway, "SELECT host, usage, count FROM cpu", user="alice", password="wonderland")
        assert rows == [("a", 1.5, 3)]
    finally:
        gateway.stop()


def test_bad_tokens_file_stops_start(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    bad = tmp_path / "http-tokens"
    bad.write_text(f"{WRITER_TOKEN}\nhas a space\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAKEGATE_")}
    for path, message in [
        (bad, f"HTTP tokens file {bad} line 2: a token must be visible ASCII characters, without spaces"),
        (tmp_path / "absent", f"HTTP tokens file {tmp_path / 'absent'} does not exist; check --http-tokens-file"),
    ]:
        command = [sys.executable, "-m", "gateway", "serve", "--storage", local_storage_url.url,
                   "--port", str(free_port()), "--http-port", str(free_port()), "--http-tokens-file", str(path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1].endswith(f"ERROR gateway: {message}")
        assert "has a space" not in result.stderr
