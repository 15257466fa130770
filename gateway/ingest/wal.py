"""The write-ahead log: acknowledged rows on local disk until they are in Parquet.

Each buffer generation of one ``(database, measurement)`` has its own segment
file, ``<segment id>.wal``. A segment starts with a header naming its
database and measurement, followed by records, each one Arrow IPC stream
of the rows of one write::

    b"LGW1" | u32 header length | header JSON
    then per record: u32 length | u32 CRC-32 | Arrow IPC stream bytes

A record is appended and (with ``sync="always"``) fsynced before the write
is acknowledged. When the segment's rows are in Parquet the file is
removed. At start-up, the segments left behind are read back: a record cut
short or failing its checksum ends the segment there, because it was never
acknowledged (the crash happened while it was being written).

A lock file keeps two processes from sharing one directory, since each
would replay the other's live segments.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from gateway.errors import ConfigurationError
from gateway.storage import layout

logger = logging.getLogger(__name__)

MAGIC = b"LGW1"
SUFFIX = ".wal"
LOCK_NAME = "lakegate.lock"
_RECORD_HEAD = struct.Struct("<II")
_LENGTH = struct.Struct("<I")


def new_segment_id() -> str:
    """Return a unique segment id, which also names the Parquet files the segment's rows go to."""
    return layout.new_file_id()


@dataclass
class Segment:
    """One open segment file: the rows of one buffer generation."""

    segment_id: str
    database: str
    measurement: str
    path: Path
    handle: object  # the binary file object, kept open for appends
    dirty: bool = False


@dataclass(frozen=True)
class RecoveredSegment:
    """A segment read back at start-up: its id, target and the tables of its complete records."""

    segment_id: str
    database: str
    measurement: str
    path: Path
    tables: list[pa.Table]
    torn: bool


class WriteAheadLog:
    """Segment files in one local directory, fsynced on every append or on an interval."""

    def __init__(self, directory: Path, sync: str = "always", sync_interval: float = 1.0) -> None:
        if sync not in ("always", "interval"):
            raise ConfigurationError(f"unknown WAL sync mode {sync!r}: expected always or interval")
        self.directory = directory
        self.sync = sync
        self.sync_interval = sync_interval
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_handle = (directory / LOCK_NAME).open("a")
        except OSError as error:
            raise ConfigurationError(f"cannot use WAL directory {directory}: {error}") from error
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            self._lock_handle.close()
            raise ConfigurationError(
                f"WAL directory {directory} is in use by another lakegate process; "
                "give each gateway its own --wal-dir"
            ) from error
        self._open: dict[str, Segment] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        if sync == "interval":
            self._syncer = threading.Thread(target=self._sync_loop, name="lakegate-wal-sync", daemon=True)
            self._syncer.start()

    # Writing

    def open_segment(self, database: str, measurement: str) -> Segment:
        """Create a new segment file for a buffer generation of ``database.measurement``."""
        segment_id = new_segment_id()
        path = self.directory / f"{segment_id}{SUFFIX}"
        header = json.dumps({"database": database, "measurement": measurement}).encode()
        handle = path.open("xb")
        handle.write(MAGIC + _LENGTH.pack(len(header)) + header)
        handle.flush()
        os.fsync(handle.fileno())
        _fsync_directory(self.directory)
        segment = Segment(segment_id, database, measurement, path, handle)
        with self._lock:
            self._open[segment_id] = segment
        return segment

    def append(self, segment: Segment, table: pa.Table, *, defer_sync: bool = False) -> None:
        """Append the rows of one write; on return they survive a crash of the process.

        With ``sync="always"`` they also survive a power failure, unless
        ``defer_sync``: then the caller runs :meth:`sync_dirty` before it
        acknowledges the write. With ``"interval"`` they survive a power
        failure once the next periodic fsync has run.
        """
        payload = _ipc_buffer(table)
        handle = segment.handle
        # Header and payload are written separately, so the Arrow buffer is never copied.
        handle.write(_RECORD_HEAD.pack(payload.size, zlib.crc32(payload)))  # type: ignore[attr-defined]
        handle.write(payload)  # type: ignore[attr-defined]
        handle.flush()  # type: ignore[attr-defined]
        if self.sync == "always" and not defer_sync:
            os.fsync(handle.fileno())  # type: ignore[attr-defined]
        else:
            segment.dirty = True

    def sync_dirty(self) -> None:
        """Fsync every open segment with appends not yet synced; raise OSError if an fsync fails."""
        # Under the lock, which close_segment also holds, so no file is closed while it is synced here.
        with self._lock:
            for segment in self._open.values():
                if segment.dirty:
                    os.fsync(segment.handle.fileno())  # type: ignore[attr-defined]
                    segment.dirty = False

    def close_segment(self, segment: Segment) -> None:
        """Stop appending to a segment (its rows are being flushed); the file stays until removed."""
        # All under the lock, so sync_dirty never returns while a dirty segment
        # is between leaving the open list and its final fsync.
        with self._lock:
            self._open.pop(segment.segment_id, None)
            handle = segment.handle
            if segment.dirty:
                os.fsync(handle.fileno())  # type: ignore[attr-defined]
                segment.dirty = False
            handle.close()  # type: ignore[attr-defined]

    def remove(self, path: Path) -> None:
        """Delete a segment whose rows are stored in Parquet."""
        path.unlink(missing_ok=True)

    # Start-up

    def recover(self) -> Iterator[RecoveredSegment]:
        """Yield the segments a previous process left behind, oldest first."""
        with self._lock:
            live = {segment.path for segment in self._open.values()}
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            if path in live:
                continue
            recovered = _read_segment(path)
            if recovered is None:
                logger.warning("removing WAL segment %s: it has no complete header (written by a crashed start)",
                               path.name)
                path.unlink(missing_ok=True)
                continue
            yield recovered

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        with self._lock:
            segments = list(self._open.values())
        for segment in segments:
            self.close_segment(segment)
        self._lock_handle.close()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.sync_interval):
            try:
                self.sync_dirty()
            except OSError as error:
                logger.error("periodic fsync of the write-ahead log failed: %s", error)


def _ipc_buffer(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return sink.getvalue()


def _read_segment(path: Path) -> RecoveredSegment | None:
    data = path.read_bytes()
    if len(data) < len(MAGIC) + _LENGTH.size or not data.startswith(MAGIC):
        return None
    (header_length,) = _LENGTH.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    try:
        header = json.loads(data[start:start + header_length])
    except ValueError:
        return None
    offset = start + header_length
    tables: list[pa.Table] = []
    torn = False
    while offset < len(data):
        if offset + _RECORD_HEAD.size > len(data):
            torn = True
            break
        length, checksum = _RECORD_HEAD.unpack_from(data, offset)
        payload = data[offset + _RECORD_HEAD.size:offset + _RECORD_HEAD.size + length]
        if len(payload) < length or zlib.crc32(payload) != checksum:
            torn = True
            break
        tables.append(ipc.open_stream(payload).read_all())
        offset += _RECORD_HEAD.size + length
    segment_id = path.name[: -len(SUFFIX)]
    return RecoveredSegment(segment_id, str(header["database"]), str(header["measurement"]), path, tables, torn)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
