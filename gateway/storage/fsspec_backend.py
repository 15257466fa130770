"""The part of the S3 and Azure backends that works through any fsspec filesystem."""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, ClassVar

from fsspec.asyn import AsyncFileSystem, sync  # type: ignore[import-untyped]  # fsspec ships no type information

from gateway.storage.backend import ObjectInfo, counts_change
from gateway.storage.paths import check_object_path, check_prefix


class FsspecBackend(abc.ABC):
    """Objects under ``<bucket or container>/<prefix>`` of an fsspec filesystem.

    The filesystem must be created with ``skip_instance_cache=True`` and
    ``use_listings_cache=False``, so that every listing queries the store and
    returns earlier writes and deletes. The cache is still invalidated after
    each change in case a subclass turns listing caches on. Writes are one
    whole-object PUT (``pipe_file``). Subclasses set ``scheme`` and
    ``delete_batch_size`` and implement ``_delete_chunk`` and ``check``.
    """

    #: URI scheme DuckDB reads the store with: "s3" or "az".
    scheme: ClassVar[str]
    #: Maximum number of keys the store deletes in one request.
    delete_batch_size: ClassVar[int]

    def __init__(self, fs: AsyncFileSystem, bucket: str, prefix: str) -> None:
        #: Writes and deletes made through this object, counted when each ends (see counts_change).
        self.changes = 0
        self.fs = fs
        self.bucket = bucket
        self.prefix = check_prefix(prefix)
        self.root = f"{bucket}/{self.prefix}" if self.prefix else bucket
        self.description = f"{self.scheme}://{self.root}"

    def read(self, path: str) -> bytes:
        """Return the whole object, or raise FileNotFoundError if it is missing."""
        data: bytes = self.fs.cat_file(self._full_path(path))
        return data

    @counts_change
    def write(self, path: str, data: bytes) -> None:
        """Replace the object with one PUT, so readers see the old or the new object."""
        full_path = self._full_path(path)
        self.fs.pipe_file(full_path, data)
        self.fs.invalidate_cache(full_path)

    @counts_change
    def create(self, path: str, data: bytes) -> bool:
        """Store the object with one conditional PUT that fails if the object exists."""
        full_path = self._full_path(path)
        created = bool(sync(self.fs.loop, self._create_object, full_path[len(self.bucket) + 1 :], data))
        self.fs.invalidate_cache(full_path)
        return created

    @abc.abstractmethod
    async def _create_object(self, key: str, data: bytes) -> bool:
        """Upload ``data`` to ``key`` unless an object is there; return whether it was stored."""

    def exists(self, path: str) -> bool:
        """Tell whether an object (not a directory prefix) exists at ``path``."""
        return bool(self.fs.isfile(self._full_path(path)))

    def list(self, prefix: str) -> list[str]:
        """Return the paths of all objects under ``prefix``, recursively, sorted."""
        return [info.path for info in self.list_objects(prefix)]

    def list_objects(self, prefix: str) -> builtins.list[ObjectInfo]:
        """Return every object under ``prefix`` with size and mtime (UTC), sorted by path.

        Only objects below ``prefix/`` count: ``a/b`` never lists ``a/bc``.
        """
        base = self._prefix_path(prefix)
        try:
            found: dict[str, dict[str, Any]] = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return []

        objects = []
        for name, info in found.items():
            if info.get("type") != "file" or not name.startswith(f"{base}/"):
                continue
            objects.append(
                ObjectInfo(
                    path=self._relative_path(name),
                    size=int(info["size"]),
                    last_modified=_modified_utc(info),
                )
            )
        return sorted(objects, key=lambda info: info.path)

    def list_directories(self, prefix: str) -> builtins.list[str]:
        """Return the names of the immediate "directories" (common prefixes) of ``prefix``, sorted."""
        base = self._prefix_path(prefix)
        try:
            entries: builtins.list[dict[str, Any]] = self.fs.ls(
                base, detail=True, refresh=True
            )
        except FileNotFoundError:
            return []

        names = {
            entry["name"].rstrip("/").rsplit("/", 1)[-1]
            for entry in entries
            if entry.get("type") == "directory" and entry["name"].rstrip("/") != base
        }
        return sorted(names)

    def delete(self, path: str) -> None:
        """Delete one object. A missing object is not an error."""
        self.delete_batch([path])

    @counts_change
    def delete_batch(self, paths: Iterable[str]) -> None:
        """Delete objects in requests of up to ``delete_batch_size`` keys, ignoring missing paths."""
        full_paths = iter([self._full_path(path) for path in paths])
        while chunk := list(islice(full_paths, self.delete_batch_size)):
            self._delete_chunk(chunk)
            for full_path in chunk:
                self.fs.invalidate_cache(full_path)

    def uri(self, path: str) -> str:
        """Return ``<scheme>://<bucket>/<prefix>/<path>``, the URI DuckDB reads."""
        return f"{self.scheme}://{self._full_path(path)}"

    def root_uri(self) -> str:
        """Return ``<scheme>://<bucket>/<prefix>/``."""
        return f"{self.scheme}://{self.root}/"

    @abc.abstractmethod
    def check(self) -> None:
        """Verify the store is reachable and usable, or raise ConfigurationError naming the fix."""

    @abc.abstractmethod
    def _delete_chunk(self, full_paths: Sequence[str]) -> None:
        """Delete up to ``delete_batch_size`` objects (``bucket/key`` paths) in one request."""

    def _full_path(self, path: str) -> str:
        return f"{self.root}/{check_object_path(path)}"

    def _prefix_path(self, prefix: str) -> str:
        checked = check_prefix(prefix)
        return f"{self.root}/{checked}" if checked else self.root

    def _relative_path(self, full_path: str) -> str:
        return full_path[len(self.root) + 1 :]


def _modified_utc(info: dict[str, Any]) -> datetime:
    # s3fs reports "LastModified" in the local zone, adlfs "last_modified" in UTC.
    modified = info.get("LastModified") or info.get("last_modified")
    if not isinstance(modified, datetime):
        raise TypeError(f"listing entry {info.get('name')!r} has no modification time")
    if modified.tzinfo is None:
        return modified.replace(tzinfo=UTC)
    return modified.astimezone(UTC)
