"""``lakegate ingest`` imports line-protocol, CSV and Parquet files into a local store."""

from __future__ import annotations

import codecs
import os
import pty
import random
import subprocess
import sys
import termios
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from gateway.bulk_ingest import CHUNK_LINES, ingest_files, line_chunks
from gateway.ingest.lineprotocol import parse_lines
from gateway.progress import FileProgress
from gateway.runtime import Runtime
from tests.e2e.gateway_process import start_gateway
from tests.emulators import StorageTarget

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _ingest(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "ingest", "--storage", store, *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_ingest_files_then_query(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    csv = tmp_path / "temps.csv"
    csv.write_text("time,host,v\n2024-01-01T00:00:00Z,a,1\n2024-01-01 01:30:00+02:00,b,2.5\n2024-01-02,c,3\n")
    parquet = tmp_path / "readings.parquet"
    pq.write_table(pa.table({"time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
                             "x": [7]}), parquet)
    result = _ingest(local_storage_url.url, str(SHARED_DATA / "noaa-ndbc-latest-observations.lp"),
                     str(SHARED_DATA / "bitcoin-currentprice.lp"), str(csv), str(parquet), "--db", "imported")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ingested 803 rows into database imported (measurements readings, temps):")

    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=imported", autocommit=True) as connection:
            assert connection.execute("SHOW TABLES").fetchall() == [
                ("coindesk",), ("ndbc",), ("readings",), ("temps",)]
            assert connection.execute("SELECT count(*) FROM ndbc").fetchone() == (796,)
            assert connection.execute("SELECT host, v FROM temps ORDER BY time").fetchall() == [
                ("b", 2.5), ("a", 1.0), ("c", 3.0)]
            first_b = connection.execute("SELECT time FROM temps WHERE host = 'b'").fetchone()
            assert first_b == (datetime(2023, 12, 31, 23, 30, tzinfo=UTC),)
            assert connection.execute("SELECT x FROM readings").fetchall() == [(7,)]
    finally:
        gateway.stop()


def test_ingest_reports_bad_input(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    lines = tmp_path / "mixed.lp"
    lines.write_text("cpu v=1 1000000000\ncpu v=oops 2000000000\n")
    result = _ingest(local_storage_url.url, str(lines), "--db", "metrics")
    assert result.returncode == 1
    assert "ingested 1 rows into database metrics" in result.stdout
    assert 'mixed.lp line 2: invalid field value "oops" for field "v"' in result.stderr

    bad_time = tmp_path / "bad.csv"
    bad_time.write_text("time,v\nyesterday,1\n")
    rejected = _ingest(local_storage_url.url, str(bad_time), "--db", "metrics")
    assert rejected.returncode == 2
    assert 'invalid time "yesterday" in row 1 of bad.csv' in rejected.stderr
    assert _ingest(local_storage_url.url, str(tmp_path / "notes.txt"), "--db", "metrics").returncode == 2
    assert _ingest(local_storage_url.url, str(lines), "--db", "../x").returncode == 2


# ---------------------------------------------------------------- chunked reading and progress


def _numbered_lines(count: int, bad: set[int]) -> bytes:
    """Return ``count`` lines of measurement cpu: line i has v=i, or the invalid value "oops" if i is in ``bad``."""
    lines = []
    for number in range(1, count + 1):
        value = "oops" if number in bad else f"{number}i"
        lines.append(f"cpu,host=h{number % 7} v={value} {1_700_000_000 + number}000000000\n")
    return "".join(lines).encode()


def test_line_chunks_end_outside_strings(tmp_path: Path) -> None:
    path = tmp_path / "tricky.lp"
    lines = [
        b'm s="one" 1\n',
        b'm s="two\n',                    # a string that spans three lines
        b"still inside\n",
        b'end" 2\n',
        b"# comment\n",
        codecs.BOM_UTF8 + b"m v=1 3\n",   # a byte order mark after a newline is not skipped
        b'm s="a\\\\" 4\n',               # an escaped backslash before the closing quote
        b'm s="YWJj=" 5\n',               # a closing quote after "=" that cannot follow a key
        b'm s="a b=" 6\n',                # looks like an opening quote after key "b"
        b"m v=2 7\n",
        b'm v=3,s="x" 8\n',
        b"m v=4 9",                       # no newline at the end of the file
    ]
    path.write_bytes(b"".join(lines))
    chunks = list(line_chunks(path, lines_per_chunk=1))
    assert [(chunk.first_line, chunk.data) for chunk in chunks] == [
        (1, lines[0]),
        (2, b"".join(lines[1:4])),
        (5, b"".join(lines[4:6])),
        (7, lines[6]),
        (8, lines[7]),
        (9, b"".join(lines[8:11])),
        (12, lines[11]),
    ]
    assert [chunk.end_offset for chunk in chunks] == [
        len(b"".join(lines[:end])) for end in (1, 4, 6, 7, 8, 11, 12)]


def test_line_chunks_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.lp"
    path.write_bytes(b"")
    assert [(chunk.first_line, chunk.data, chunk.end_offset) for chunk in line_chunks(path)] == [(1, b"", 0)]


def _parse_in_chunks(path: Path, lines_per_chunk: int) -> tuple[list[tuple[object, ...]], list[tuple[int, str]]]:
    """Parse a file chunk by chunk; return its points and errors with line numbers of the whole file."""
    points: list[tuple[object, ...]] = []
    errors: list[tuple[int, str]] = []
    for chunk in line_chunks(path, lines_per_chunk):
        parsed = parse_lines(chunk.data, default_time_ns=0)
        offset = chunk.first_line - 1
        points += [(point.line_number + offset, point.measurement, point.tags, point.fields, point.time_us)
                   for point in parsed.points]
        errors += [(error.line_number + offset, error.reason) for error in parsed.errors]
    return points, errors


def _parse_whole(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[int, str]]]:
    parsed = parse_lines(path.read_bytes(), default_time_ns=0)
    points: list[tuple[object, ...]] = [
        (point.line_number, point.measurement, point.tags, point.fields, point.time_us) for point in parsed.points]
    return points, [(error.line_number, error.reason) for error in parsed.errors]


def test_chunks_parse_like_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "tricky.lp"
    path.write_bytes(codecs.BOM_UTF8 + b"".join([
        b'm,t=a s="x\n', b'y",n=1i 1\n', b"bad line\n", b'm s="closed on line 6\n', b"m v=1 2\n",
        b'm s="\\"" 3\n', b"\n", b'm s="p=\\\\" 4\n', b"m v=oops 5\r\n", b'm s="z\n', b'" 6\n',
        codecs.BOM_UTF8 + b"m v=2 7\n", b"m v=3 8\n", b'm s="YWJj=" 9\n', b'm s="a b=\n', b'c=" 10\n',
        b'm s="\\\\" 11\n', b'm s="\\\\\\"\n', b'" 12\n', b"m,t=x,\n", b'k="v" 13\n', b'm s="never closed\n',
        b"m v=4 14",
    ]))
    expected_points, expected_errors = _parse_whole(path)
    assert [point[0] for point in expected_points] == [1, 8, 10, 12, 13, 14, 15, 17, 18, 23]
    assert [error[0] for error in expected_errors] == [3, 4, 9, 20, 21, 22]
    for lines_per_chunk in range(1, 25):
        assert _parse_in_chunks(path, lines_per_chunk) == (expected_points, expected_errors), lines_per_chunk


def test_chunks_parse_like_whole_file_random(tmp_path: Path) -> None:
    # Text built from the pieces that decide where strings open and close.
    pieces = ['m s="', 'm,t=a k="', '"', '" 1\n', '",k=1', "x", "\\", "=", "\n", " ", ",", "a b=", "# ",
              "m v=1\n"]
    generator = random.Random(20240601)
    path = tmp_path / "random.lp"
    multi_line_strings = 0
    for _ in range(400):
        path.write_text("".join(generator.choice(pieces) for _ in range(40)))
        expected = _parse_whole(path)
        multi_line_strings += any("\n" in str(value) for point in expected[0] for value in point[3].values())
        for lines_per_chunk in (1, 2, 3, 5):
            assert _parse_in_chunks(path, lines_per_chunk) == expected, (path.read_text(), lines_per_chunk)
    # The generated files must exercise strings that span lines.
    assert multi_line_strings >= 40


def test_ingest_numbers_lines_across_chunks(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    count = 2 * CHUNK_LINES + 3
    bad = {2, CHUNK_LINES, CHUNK_LINES + 1, 2 * CHUNK_LINES + 3}
    path = tmp_path / "big.lp"
    path.write_bytes(_numbered_lines(count, bad))
    result = _ingest(local_storage_url.url, str(path), "--db", "metrics")
    assert result.returncode == 1
    assert result.stdout.startswith(f"ingested {count - len(bad)} rows into database metrics:")
    assert result.stderr.splitlines() == [
        f'rejected: big.lp line {number}: invalid field value "oops" for field "v"' for number in sorted(bad)]

    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=metrics", autocommit=True) as connection:
            assert connection.execute("SELECT count(*), sum(v) FROM cpu").fetchone() == (
                count - len(bad), count * (count + 1) // 2 - sum(bad))
            assert connection.execute(f"SELECT v FROM cpu WHERE v BETWEEN {CHUNK_LINES - 1} AND "
                                      f"{CHUNK_LINES + 2} ORDER BY v").fetchall() == [
                (CHUNK_LINES - 1,), (CHUNK_LINES + 2,)]
    finally:
        gateway.stop()


def test_ingest_progress_callback(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    lines = tmp_path / "big.lp"
    lines.write_bytes(_numbered_lines(CHUNK_LINES + 2, {3}))
    csv = tmp_path / "temps.csv"
    csv.write_text("time,v\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,2\n")
    first_chunk_bytes = len(_numbered_lines(CHUNK_LINES, {3}))
    events: list[FileProgress] = []
    runtime = Runtime.start(local_storage_url.settings, write_ahead=False)
    try:
        summary = ingest_files(runtime, [lines, csv], "metrics", progress=events.append)
    finally:
        runtime.close()
    lines_size = lines.stat().st_size
    csv_size = csv.stat().st_size
    assert events == [
        FileProgress("big.lp", 0, lines_size, 0),
        FileProgress("big.lp", first_chunk_bytes, lines_size, CHUNK_LINES - 1),
        FileProgress("big.lp", lines_size, lines_size, CHUNK_LINES + 1),
        FileProgress("big.lp", lines_size, lines_size, CHUNK_LINES + 1, done=True),
        FileProgress("temps.csv", 0, csv_size, 0),
        FileProgress("temps.csv", csv_size, csv_size, 2, done=True),
    ]
    assert summary.rows == CHUNK_LINES + 3
    assert summary.rejected == ['big.lp line 3: invalid field value "oops" for field "v"']


def test_ingest_rejects_invalid_utf8_before_writing(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    path = tmp_path / "broken.lp"
    path.write_bytes(b"cpu v=1 1000000000\ncpu v=2 2000000000\ncpu,host=\xff v=3 3000000000\n")
    result = _ingest(local_storage_url.url, str(path), "--db", "metrics")
    assert result.returncode == 2
    assert result.stderr == f"lakegate ingest: cannot import {path}: invalid UTF-8 in line 3 at byte offset 47\n"
    assert list(Path(local_storage_url.url).iterdir()) == []


def _ingest_on_terminal(store: str, *args: str) -> tuple[int, str, bytes]:
    """Run ``lakegate ingest`` with stderr on a pseudo-terminal of 100 columns; return status, stdout and stderr."""
    controller, terminal = pty.openpty()
    termios.tcsetwinsize(terminal, (24, 100))
    try:
        process = subprocess.Popen([sys.executable, "-m", "gateway", "ingest", "--storage", store, *args],
                                   stdout=subprocess.PIPE, stderr=terminal, text=True)
        os.close(terminal)
        stdout, _ = process.communicate(timeout=300)
        return process.returncode, stdout, _read_until_closed(controller)
    finally:
        os.close(controller)


def _read_until_closed(controller: int) -> bytes:
    output = b""
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # Linux raises EIO once every terminal side is closed
            return output
        if not data:
            return output
        output += data


def test_progress_line_on_terminal(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    path = tmp_path / "small.lp"
    path.write_bytes(b"cpu v=1 1000000000\ncpu v=2 2000000000\n")
    status, stdout, stderr = _ingest_on_terminal(local_storage_url.url, str(path), "--db", "metrics")
    assert status == 0
    assert stdout.startswith("ingested 2 rows into database metrics:")
    # The terminal turns each "\n" into "\r\n".
    assert stderr == (b"\rsmall.lp: 0 B / 38 B (0%), 0 rows\x1b[K"
                      b"\rsmall.lp: 38 B / 38 B (100%), 2 rows\x1b[K"
                      b"\rsmall.lp: 38 B / 38 B (100%), 2 rows\x1b[K\r\n")


def test_progress_line_fits_terminal(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    path = tmp_path / f"{'long-name-' * 12}.lp"
    path.write_bytes(b"cpu v=1 1000000000\n")
    status, _, stderr = _ingest_on_terminal(local_storage_url.url, str(path), "--db", "metrics")
    assert status == 0
    lines = stderr.replace(b"\x1b[K", b"").replace(b"\r\n", b"\r").split(b"\r")
    assert [len(line) for line in lines if line] == [99, 99, 99]
    assert all(line.endswith(b"...") for line in lines if line)


def test_no_progress_when_stderr_is_pipe(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    path = tmp_path / "small.lp"
    path.write_bytes(b"cpu v=1 1000000000\ncpu v=2 2000000000\n")
    result = _ingest(local_storage_url.url, str(path), "--db", "metrics")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("ingested 2 rows into database metrics:")
