"""Listings of the store kept between queries, each with the check that finds when it is out of date.

Every listing is dropped when this process writes or deletes anything in
the store: the backend counts its changes (``changes``). Changes made by
other processes are found differently per store:

- Local directories: a listing records the modification time of every
  directory it walked, and is reused only while none of them changed. A
  file created, renamed or removed changes its directory's time, so the
  check is exact. A listing taken less than a second after one of its
  directories changed is not kept, because file systems may give two
  changes within one clock tick the same time.
- S3 and Azure: a listing is reused for ``ttl`` seconds, so objects that
  another gateway writes are seen within that time.

Statements that change the store (DELETE, retention, continuous queries)
list afresh; only queries read from this cache.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gateway.storage.backend import ObjectInfo
from gateway.storage.local import LocalBackend

#: Changes closer than this to a local listing make it unsafe to keep (see the module docstring).
RACY_NANOSECONDS = 1_000_000_000
#: Entries kept at most; past it the cache starts empty again.
MAX_ENTRIES = 4096

Value = TypeVar("Value")
Token = tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class _Entry:
    value: object
    changes: int
    expires: float
    directories: Token


class ListingCache:
    """Directory and object listings by prefix, reused while they are known to be current."""

    def __init__(self, backend: object, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.ttl = ttl
        self._clock = clock
        self._root = backend.root if isinstance(backend, LocalBackend) else None
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def objects(self, prefix: str, load: Callable[[], list[ObjectInfo]]) -> list[ObjectInfo]:
        """Return the objects under ``prefix``, from the cache or from ``load``."""
        return self._get(("objects", prefix), load, lambda: _directories_under(self._root, prefix))

    def directories(self, prefix: str, load: Callable[[], list[str]]) -> list[str]:
        """Return the subdirectory names of ``prefix``, from the cache or from ``load``."""
        return self._get(("directories", prefix), load, lambda: [prefix])

    def clear(self) -> None:
        """Drop every kept listing."""
        with self._lock:
            self._entries.clear()

    def _get(self, key: tuple[str, str], load: Callable[[], Value], walked: Callable[[], list[str]]) -> Value:
        changes = self._changes()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and self._current(entry, changes):
            return entry.value  # type: ignore[return-value]

        started = time.time_ns()
        value = load()
        entry = self._entry(value, changes, walked, started)
        if entry is not None:
            with self._lock:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = entry
        return value

    def _current(self, entry: _Entry, changes: int) -> bool:
        if entry.changes != changes:
            return False
        if self._root is None:
            return self._clock() < entry.expires
        return self._token([path for path, _ in entry.directories]) == entry.directories

    def _entry(self, value: object, changes: int, walked: Callable[[], list[str]], started: int) -> _Entry | None:
        if self._root is None:
            if self.ttl <= 0:
                return None
            return _Entry(value, changes, self._clock() + self.ttl, ())
        token = self._token(walked())
        if any(mtime is None or mtime > started - RACY_NANOSECONDS for _, mtime in token):
            return None
        return _Entry(value, changes, float("inf"), token)

    def _token(self, prefixes: list[str]) -> Token:
        assert self._root is not None
        token = []
        for prefix in prefixes:
            try:
                mtime: int | None = os.stat(_directory(self._root, prefix)).st_mtime_ns
            except OSError:
                mtime = None
            token.append((prefix, mtime))
        return tuple(token)

    def _changes(self) -> int:
        return int(getattr(self.backend, "changes", 0))


def _directory(root: Path, prefix: str) -> str:
    return os.path.join(root, prefix) if prefix else str(root)


def _directories_under(root: Path | None, prefix: str) -> list[str]:
    """Return ``prefix`` and every directory below it that a local listing walks (hidden ones are skipped)."""
    assert root is not None
    directories = [prefix]
    for directory, subdirectories, _ in os.walk(_directory(root, prefix)):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        relative = os.path.relpath(directory, root)
        if relative != ".":
            directories.append(relative.replace(os.sep, "/") + "/")
    return sorted(set(directories))
