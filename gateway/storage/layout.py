"""Names, paths and hour partitions of the Parquet store.

Layout under the root (Arc's layout, so an Arc store can be served in place)::

    <db>/<measurement>/<YYYY>/<MM>/<DD>/<HH>/<measurement>_<YYYYMMDD>_<HHMMSS>_<ns9>.parquet

The directories name the UTC hour of the rows' data time; the file name
carries the write time plus a unique suffix. Daily compacted files sit
directly in ``<DD>/`` and cover the whole day.

A DELETE never overwrites a file: it writes a new version of it next to
the old one, ``<base>.v<nanoseconds>.parquet``, where ``<base>`` is the
first file's name without ``.parquet``. Of the files sharing a base in one
directory, only the one with the highest version is read. The others are
superseded, and are removed after a grace period meant to outlast the
queries that listed them (see gateway/storage/file_versions.py).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.errors import InvalidName

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
METADATA_PREFIX = "_lakegate"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def validate_name(name: str, kind: str = "name") -> str:
    """Return ``name`` if it is a valid database or measurement name, else raise InvalidName.

    Valid names are 1-64 letters, digits, ``_`` and ``-``, not starting
    with ``_`` or ``-``. Nothing else may reach a path or SQL text.
    """
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        # Quoted as PostgreSQL quotes names; control characters shown escaped.
        shown = repr(name)[1:-1] if isinstance(name, str) else repr(name)
        shown = shown.replace('"', '""')[:80]
        raise InvalidName(
            f'invalid {kind} name "{shown}"',
            detail="names are 1 to 64 letters, digits, '_' or '-', not starting with '_' or '-'",
        )
    return name


def is_listable_name(name: str) -> bool:
    """Tell whether a directory name is shown as a database or measurement."""
    return NAME_PATTERN.fullmatch(name) is not None


def measurement_prefix(database: str, measurement: str) -> str:
    """Return the path prefix holding every file of one measurement, ending with ``/``."""
    return f"{validate_name(database, 'database')}/{validate_name(measurement, 'measurement')}/"


def database_prefix(database: str) -> str:
    """Return the path prefix of one database, ending with ``/``."""
    return f"{validate_name(database, 'database')}/"


def hour_directory(database: str, measurement: str, hour: datetime) -> str:
    """Return the directory of the hour partition containing ``hour`` (an aware datetime)."""
    hour = hour.astimezone(UTC)
    return measurement_prefix(database, measurement) + hour.strftime("%Y/%m/%d/%H/")


def new_file_id(now: datetime | None = None) -> str:
    """Return a unique file id: the write time and a suffix, ``YYYYMMDD_HHMMSS_<ns9><hex4>``."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%d_%H%M%S')}_{time.time_ns() % 1_000_000_000:09d}{secrets.token_hex(2)}"


def new_file_path(database: str, measurement: str, hour: datetime, now: datetime | None = None,
                  file_id: str | None = None) -> str:
    """Return the path of a file in the hour partition of ``hour``, named by ``file_id`` or a fresh id.

    The buffered writer passes its WAL segment's id, so all files of one
    flush share it and a replay after a crash rewrites the same paths.
    """
    name = f"{measurement}_{file_id or new_file_id(now)}.parquet"
    return hour_directory(database, measurement, hour) + name


def file_version(path: str) -> tuple[str, str]:
    """Return (directory and base name, version) of a file path; the first version is ``""``.

    ``db/m/2024/01/01/00/m_X.parquet`` is (``db/m/2024/01/01/00/m_X``, ``""``)
    and ``db/m/2024/01/01/00/m_X.V.parquet`` is (``.../m_X``, ``V``).
    Versions sort as text in the order they were made.
    """
    directory, _, name = path.rpartition("/")
    stem = name.removesuffix(".parquet")
    base, _, version = stem.partition(".")
    return (f"{directory}/{base}" if directory else base), version


def new_version_path(path: str) -> str:
    """Return the path of a new version of the file at ``path``, sorting after every existing one.

    The version is the wall-clock time in nanoseconds, made to grow within
    this process even if the clock steps back.
    """
    global _last_version
    base, current = file_version(path)
    with _version_lock:
        floor = int(current[1:]) + 1 if current.startswith("v") and current[1:].isdigit() else 0
        _last_version = max(time.time_ns(), _last_version + 1, floor)
        version = _last_version
    return f"{base}.v{version:020d}.parquet"


_version_lock = threading.Lock()
_last_version = 0


@dataclass(frozen=True)
class Partition:
    """The time span [start, end) whose rows a file may hold, read off its path."""

    start: datetime
    end: datetime

    def overlaps(self, low: datetime | None, high: datetime | None) -> bool:
        """Tell whether any instant in [low, high] (open ends unbounded) falls in this span."""
        if low is not None and self.end <= low:
            return False
        return not (high is not None and self.start > high)


_PARTITION_PATTERN = re.compile(
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?:(?P<h>\d{2})/)?[^/]+\.parquet"
)


def partition_of(relative_path: str) -> Partition | None:
    """Return the span of a file from its path below the measurement prefix.

    ``YYYY/MM/DD/HH/file.parquet`` spans one hour and ``YYYY/MM/DD/file.parquet``
    (a daily compacted file) a whole day; any other path returns None.
    """
    match = _PARTITION_PATTERN.fullmatch(relative_path)
    if match is None:
        return None
    try:
        day = datetime(int(match["y"]), int(match["m"]), int(match["d"]), tzinfo=UTC)
        if match["h"] is None:
            return Partition(day, day + DAY)
        start = day + timedelta(hours=int(match["h"]))
    except ValueError:
        return None
    if start.hour != int(match["h"]):
        return None
    return Partition(start, start + HOUR)
