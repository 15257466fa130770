"""Object reads counted from the request log of moto's S3 server.

moto's server (werkzeug) logs one line per request, such as
``127.0.0.1 - - [05/Dec/2026 02:15:45] "GET /bucket/key HTTP/1.1" 206 -``,
with ANSI colour codes around some request lines. Reading the log from a
byte offset counts only the requests made since that offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) /(?P<path>[^ ?"]*)(?:\?[^ "]*)? HTTP/[0-9.]+"')


@dataclass(frozen=True)
class ObjectReads:
    """GET requests on objects of one bucket whose key ends with a suffix, how many objects they
    touched, and the listings (GET requests on the bucket itself) among the same lines."""

    requests: int
    objects: int
    listings: int = 0


def object_reads(lines: list[str], bucket: str, suffix: str = ".parquet") -> ObjectReads:
    """Count the GET requests of ``lines`` on ``bucket``'s keys that end with ``suffix``, and its listings.

    HEAD requests and writes are not counted: only a GET returns an
    object's bytes.
    """
    requests = listings = 0
    keys: set[str] = set()
    for line in lines:
        match = _REQUEST.search(_ANSI_ESCAPE.sub("", line))
        if match is None or match["method"] != "GET":
            continue
        found_bucket, _, key = match["path"].partition("/")
        if found_bucket != bucket:
            continue
        if not key:
            listings += 1
        elif key.endswith(suffix):
            requests += 1
            keys.add(key)
    return ObjectReads(requests, len(keys), listings)


def log_size(path: Path) -> int:
    """Return the log's size in bytes, the offset from which ``lines_since`` reads new lines."""
    return path.stat().st_size


def lines_since(path: Path, offset: int) -> list[str]:
    """Return the complete lines written to the log after byte ``offset``."""
    with path.open("rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return text.splitlines()
