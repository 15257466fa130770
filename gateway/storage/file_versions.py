"""Versions of a Parquet file: which one is read, and removing the others safely.

A DELETE rewrites a file by writing a new version next to it (see
layout.py), so that a query that listed the old version can still read it
whole: DuckDB opens a file more than once during one scan, and a file
replaced in place could change between two opens. Listings read only the
newest version of each file. The older ones are superseded. The process
that wrote the newer version removes them once ``SUPERSEDED_GRACE`` has
passed. After a restart, the next DELETE over that partition removes them,
and so do TRUNCATE and DROP of the measurement.

Removing the newest version while an older one exists would bring the
older one's rows back, so every removal takes the older versions first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from gateway.storage.backend import ObjectInfo, StorageBackend
from gateway.storage.delayed_calls import DelayedCalls
from gateway.storage.layout import file_version

logger = logging.getLogger(__name__)

#: How long a superseded version stays after its replacement was written:
#: longer than a query that listed it before the DELETE could still run.
SUPERSEDED_GRACE = timedelta(minutes=10)


def newest_versions(files: Iterable[ObjectInfo]) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
    """Split listed files into (newest version of each file, older versions), both in listing order."""
    newest: dict[str, ObjectInfo] = {}
    versions: dict[str, str] = {}
    listed = list(files)
    for info in listed:
        base, version = file_version(info.path)
        if base not in versions or version > versions[base]:
            versions[base] = version
            newest[base] = info
    live = {id(info) for info in newest.values()}
    return [info for info in listed if id(info) in live], [info for info in listed if id(info) not in live]


def remove_files(backend: StorageBackend, paths: list[str], superseded: Iterable[ObjectInfo]) -> None:
    """Remove the files at ``paths`` and every older version of them among ``superseded``, older ones first."""
    bases = {file_version(path)[0] for path in paths}
    older = [info.path for info in superseded if file_version(info.path)[0] in bases]
    if older:
        backend.delete_batch(older)
    if paths:
        backend.delete_batch(paths)


def stale_versions(live: Iterable[ObjectInfo], superseded: Iterable[ObjectInfo], now: datetime,
                   grace: timedelta = SUPERSEDED_GRACE) -> list[str]:
    """Return the superseded versions whose newer version was written more than ``grace`` before ``now``."""
    replaced_at = {file_version(info.path)[0]: info.last_modified for info in live}
    stale = []
    for info in superseded:
        written = replaced_at.get(file_version(info.path)[0])
        if written is not None and written <= now - grace:
            stale.append(info.path)
    return stale


def remove_later(backend: StorageBackend, paths: list[str], grace: timedelta = SUPERSEDED_GRACE) -> None:
    """Remove superseded versions after ``grace``, on the shared removal thread; a failure is only logged.

    If the process stops first, the files stay superseded (never read) until
    the next DELETE over their partition, or TRUNCATE or DROP, removes them.
    """
    if not paths:
        return

    def remove() -> None:
        try:
            backend.delete_batch(paths)
        except Exception as error:  # noqa: BLE001 (a later DELETE of the measurement retries)
            logger.warning("removing %d superseded file versions failed: %s", len(paths), error)

    _removals.add(grace.total_seconds(), remove)


_removals = DelayedCalls("lakegate-superseded-removal")
