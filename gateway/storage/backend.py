"""Storage interfaces shared by the local, S3 and Azure backends.

Paths are always relative to the backend's root, use ``/`` as separator and
never start with ``/``. A backend never receives a path that layout.py has not
built from validated names.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its path under the root, size in bytes and mtime (UTC)."""

    path: str
    size: int
    last_modified: datetime


@runtime_checkable
class Backend(Protocol):
    """Whole-object storage rooted at one directory, bucket prefix or container prefix."""

    #: Human-readable location with credentials masked, for logs and errors.
    description: str

    def read(self, path: str) -> bytes:
        """Return the whole object; raise FileNotFoundError if it is missing."""

    def write(self, path: str, data: bytes) -> None:
        """Replace the object whole: readers see the old or the new bytes, never a mix."""

    def create(self, path: str, data: bytes) -> bool:
        """Store the object only if none exists at ``path``; return False if one does.

        The check and the write are one step in the store (an exclusive
        link, a conditional PUT), so of several gateways creating the same
        path exactly one succeeds. Leases are built on it.
        """

    def exists(self, path: str) -> bool:
        """Tell whether an object exists at ``path``."""

    def list(self, prefix: str) -> list[str]:
        """Return the paths of all objects under ``prefix`` (recursive), sorted."""

    def delete(self, path: str) -> None:
        """Delete one object; a missing object is not an error."""

    def uri(self, path: str) -> str:
        """Return the path as DuckDB reads it: a local path, s3://bucket/key or az://container/key."""

    def root_uri(self) -> str:
        """Return the root as DuckDB reads it, ending with ``/``."""

    def check(self) -> None:
        """Verify the store is reachable and usable; raise ConfigurationError saying what to fix."""


@runtime_checkable
class DirectoryLister(Protocol):
    def list_directories(self, prefix: str) -> list[str]:
        """Return the names (not paths) of the immediate subdirectories of ``prefix``, sorted."""


@runtime_checkable
class ObjectLister(Protocol):
    def list_objects(self, prefix: str) -> list[ObjectInfo]:
        """Return every object under ``prefix`` (recursive) with size and mtime, sorted by path."""


@runtime_checkable
class BatchDeleter(Protocol):
    def delete_batch(self, paths: Iterable[str]) -> None:
        """Delete many objects in as few requests as the store allows; missing paths are ignored."""


class StorageBackend(Backend, DirectoryLister, ObjectLister, BatchDeleter, Protocol):
    """A backend offering every interface; all three built-in backends are one."""


Method = TypeVar("Method", bound=Callable[..., Any])
_changes_lock = threading.Lock()


def counts_change(method: Method) -> Method:
    """Make a writing method of a backend add one to its ``changes`` once the write has ended.

    Listings kept between queries record ``changes`` before they list and
    are dropped when it moves (see gateway/sql/listing_cache.py). Counting
    after the write, and also after a failed one, means no listing can
    miss a change it did not see.
    """

    @functools.wraps(method)
    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            with _changes_lock:
                self.changes = getattr(self, "changes", 0) + 1

    return counted  # type: ignore[return-value]
