"""InfluxDB line protocol over HTTP, on every backend, with the real sample data files."""

from __future__ import annotations

import gzip
import http.client
import json
from pathlib import Path

import psycopg

from tests.e2e.gateway_process import GatewayProcess

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NOAA = SHARED_DATA / "noaa-ndbc-latest-observations.lp"
BITCOIN = SHARED_DATA / "bitcoin-currentprice.lp"


def _request(gateway: GatewayProcess, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _query(gateway: GatewayProcess, database: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def test_ping_and_health(gateway: GatewayProcess) -> None:
    assert _request(gateway, "GET", "/ping")[0] == 204
    status, body = _request(gateway, "GET", "/health")
    assert status == 200
    assert json.loads(body)["status"] == "pass"


def test_noaa_file_ingests_exactly(gateway: GatewayProcess) -> None:
    data = NOAA.read_bytes()
    status, body = _request(gateway, "POST", "/write?db=noaa&precision=ns", data)
    assert status == 204, body
    lines = [line for line in data.decode().splitlines() if line.strip()]
    expected_without_name = sum(1 for line in lines if "station_name=" not in line.split(" ")[0])
    assert _query(gateway, "noaa", "SELECT count(*) FROM ndbc") == [(len(lines),)]
    assert _query(gateway, "noaa", "SELECT count(*) FROM ndbc WHERE station_name IS NULL") \
        == [(expected_without_name,)]
    grays = _query(gateway, "noaa", "SELECT count(*) FROM ndbc WHERE station_name = "
                   "'GRAYS REEF - 40 NM Southeast of Savannah, GA'")
    assert grays == [(1,)]


def test_noaa_column_types(gateway: GatewayProcess) -> None:
    status, _ = _request(gateway, "POST", "/write?db=noaa", NOAA.read_bytes())
    assert status == 204
    with psycopg.connect(f"{gateway.dsn} dbname=noaa", autocommit=True) as connection:
        columns = dict(connection.execute("SHOW COLUMNS FROM ndbc").fetchall())
    assert columns["time"] == "TIMESTAMP WITH TIME ZONE"
    assert columns["wave_dir_degt"] == "BIGINT"
    assert columns["wind_speed_mps"] == "DOUBLE"
    assert columns["station_met"] == "VARCHAR"
    assert columns["station_id"] == "VARCHAR"


def test_bitcoin_v2_gzip(gateway: GatewayProcess) -> None:
    body = gzip.compress(BITCOIN.read_bytes())
    status, response = _request(gateway, "POST", "/api/v2/write?bucket=markets&org=o&precision=ns", body,
                                {"Content-Encoding": "gzip"})
    assert status == 204, response
    rows = _query(gateway, "markets", "SELECT code, symbol, price, time FROM coindesk ORDER BY code")
    assert [(code, symbol, price) for code, symbol, price, _ in rows] == [
        ("EUR", "&euro;", 37136.1669), ("GBP", "&pound;", 31987.6477), ("USD", "&#36;", 42970.9319)]
    assert {row[3].timestamp() for row in rows} == {1633002480.0}


def test_partial_write_reports_bad_lines(gateway: GatewayProcess) -> None:
    body = (b"cpu,host=a usage=1.5 1700000000000000000\n"
            b"cpu,host=b usage=oops 1700000000000000000\n"
            b"cpu,host=c usage=2 1700000000000000000\n"
            b"cpu,host=d usage=\"text\" 1700000000000000000\n")
    status, response = _request(gateway, "POST", "/write?db=metrics", body)
    assert status == 400
    report = json.loads(response)
    assert report["written"] == 2
    assert report["rejected"] == 2
    assert "line 2:" in report["message"]
    assert "line 4:" in report["message"]
    assert _query(gateway, "metrics", "SELECT host, usage FROM cpu ORDER BY host") == [("a", 1.5), ("c", 2.0)]


def test_bad_requests_store_nothing(gateway: GatewayProcess) -> None:
    assert _request(gateway, "POST", "/write?db=../evil", b"cpu v=1 1")[0] == 400
    assert _request(gateway, "POST", "/write?db=metrics&precision=fortnight", b"cpu v=1 1")[0] == 400
    assert _request(gateway, "POST", "/write?db=metrics", b"\xff\xfe")[0] == 400
    assert _request(gateway, "POST", "/write?db=metrics", b"not gzip", {"Content-Encoding": "gzip"})[0] == 400
    assert _request(gateway, "POST", "/nowhere", b"")[0] == 404
    with psycopg.connect(f"{gateway.dsn} dbname=metrics", autocommit=True) as connection:
        assert connection.execute("SHOW DATABASES").fetchall() == []
