"""Real NOAA buoy observations through HTTP and COPY, checked against values read from the file here.

The expected values come from a small reader in this module (split on
unescaped separators, then unescape), not from the gateway's parser, so
a parser bug cannot hide in both sides.
"""

from __future__ import annotations

import csv
import http.client
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from tests.e2e.gateway_process import GatewayProcess

NOAA = Path(__file__).resolve().parents[3] / "shared" / "data" / "noaa-ndbc-latest-observations.lp"


def _unescape(text: str) -> str:
    return re.sub(r"\\([ ,=\\])", r"\1", text)


def _observations() -> list[dict[str, object]]:
    """Return one dict per line: tags as text, fields as int, float or text, and ``time``."""
    observations = []
    for line in NOAA.read_text().splitlines():
        if not line.strip():
            continue
        head, fields, timestamp = re.split(r"(?<!\\) ", line)
        _, *tags = re.split(r"(?<!\\),", head)
        row: dict[str, object] = {"time": datetime.fromtimestamp(int(timestamp) // 10**9, UTC)}
        for tag in tags:
            key, value = re.split(r"(?<!\\)=", tag, maxsplit=1)
            row[_unescape(key)] = _unescape(value)
        for field in fields.split(","):
            key, value = field.split("=", 1)
            if value.startswith('"'):
                row[key] = value[1:-1]
            elif value.endswith("i"):
                row[key] = int(value[:-1])
            else:
                row[key] = float(value)
        observations.append(row)
    return observations


def _by_station(rows: list[tuple[object, ...]]) -> dict[object, tuple[object, ...]]:
    return {row[0]: row[1:] for row in rows}


def _expected(observations: list[dict[str, object]]) -> dict[object, tuple[object, ...]]:
    return {row["station_id"]: (row["time"], row.get("station_name"), row.get("station_owner"),
                                row.get("wind_speed_mps"), row.get("station_met"))
            for row in observations}


QUERY = ("SELECT station_id, time, station_name, station_owner, wind_speed_mps, station_met FROM {} "
         "ORDER BY station_id")


def test_noaa_over_http_matches_file(gateway: GatewayProcess) -> None:
    observations = _observations()
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=60)
    connection.request("POST", "/write?db=noaa&precision=ns", body=NOAA.read_bytes())
    assert connection.getresponse().status == 204
    connection.close()
    with psycopg.connect(f"{gateway.dsn} dbname=noaa", autocommit=True) as client:
        assert client.execute("SELECT count(*) FROM ndbc").fetchone() == (len(observations),)
        stored = _by_station(client.execute(QUERY.format("ndbc")).fetchall())
    assert len(stored) == len({row["station_id"] for row in observations})
    assert stored == _expected(observations)
    # Escaped commas and spaces in tag values come back as written.
    assert stored["41008"][1] == "GRAYS REEF - 40 NM Southeast of Savannah, GA"
    assert stored["15002"][2] == "Prediction and Research Moored Array in the Atlantic"


def test_noaa_over_copy_matches_file(gateway: GatewayProcess) -> None:
    observations = _observations()
    columns = ["time", "station_id", "station_name", "station_owner", "wind_speed_mps", "station_met"]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in observations:
        writer.writerow(["" if row.get(name) is None else row[name] for name in columns])
    with psycopg.connect(f"{gateway.dsn} dbname=noaa", autocommit=True) as client:
        with client.cursor().copy(f"COPY ndbc_csv ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, HEADER)") \
                as copy:
            copy.write(text.getvalue().encode())
        assert client.execute("SELECT count(*) FROM ndbc_csv").fetchone() == (len(observations),)
        stored = _by_station(client.execute(QUERY.format("ndbc_csv")).fetchall())
        types = dict(client.execute("SHOW COLUMNS FROM ndbc_csv").fetchall())
    assert stored == _expected(observations)
    assert types == {"time": "TIMESTAMP WITH TIME ZONE", "station_id": "VARCHAR", "station_name": "VARCHAR",
                     "station_owner": "VARCHAR", "wind_speed_mps": "DOUBLE", "station_met": "VARCHAR"}
