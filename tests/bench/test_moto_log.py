"""Counting object reads in moto's request log."""

from __future__ import annotations

from pathlib import Path

from bench.moto_log import ObjectReads, lines_since, log_size, object_reads

LOG_LINES = [
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /moto-api/ HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "PUT /bench-bucket/a/1.parquet HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "\x1b[35m\x1b[1mGET /bench-bucket/a/1.parquet HTTP/1.1\x1b[0m" 206 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /bench-bucket/a/1.parquet HTTP/1.1" 206 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /bench-bucket/a/2.parquet?x-id=GetObject HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "HEAD /bench-bucket/a/3.parquet HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /bench-bucket?list-type=2&prefix=a/ HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /other-bucket/a/1.parquet HTTP/1.1" 200 -',
    '127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /bench-bucket/a/notes.txt HTTP/1.1" 200 -',
]


def test_object_reads_counts_gets_and_distinct_keys() -> None:
    assert object_reads(LOG_LINES, "bench-bucket") == ObjectReads(requests=3, objects=2, listings=1)


def test_object_reads_of_no_lines() -> None:
    assert object_reads([], "bench-bucket") == ObjectReads(requests=0, objects=0, listings=0)


def test_lines_since_offset_reads_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "moto.log"
    log.write_text(LOG_LINES[0] + "\n")
    offset = log_size(log)
    with log.open("a") as appended:
        appended.write(LOG_LINES[2] + "\n" + LOG_LINES[4] + "\n")
    lines = lines_since(log, offset)
    assert lines == [LOG_LINES[2], LOG_LINES[4]]
    assert object_reads(lines, "bench-bucket") == ObjectReads(requests=2, objects=2)
