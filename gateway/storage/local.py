"""Storage in a local directory."""

from __future__ import annotations

import builtins
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from gateway.storage.backend import ObjectInfo, counts_change
from gateway.storage.check import unusable, verify_round_trip
from gateway.storage.paths import check_object_path, check_prefix

logger = logging.getLogger(__name__)

# A concurrent delete may remove a freshly created, still empty directory
# before the temporary file lands in it, so write() tries this many times.
_WRITE_ATTEMPTS = 3


class LocalBackend:
    """Objects as files under one root directory.

    Writes are atomic: a temporary file in the target directory (its name
    starts with ``.``, so listings skip it) is fsynced and renamed over the
    target with os.replace. Deleting an object also removes the directories
    it leaves empty, up to the root, so listings of directories match those
    of the object stores, which have no empty directories.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        #: Writes and deletes made through this object, counted when each ends (see counts_change).
        self.changes = 0
        self.root = Path(root).resolve()
        self.description = str(self.root)

    def read(self, path: str) -> bytes:
        """Return the whole file, or raise FileNotFoundError if it is missing."""
        return self._full_path(path).read_bytes()

    @counts_change
    def write(self, path: str, data: bytes) -> None:
        """Replace the file atomically, creating its parent directories."""
        target = self._full_path(path)
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                handle, temporary = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
                )
            except FileNotFoundError:
                if attempt == _WRITE_ATTEMPTS:
                    raise
                continue
            _write_and_replace(handle, Path(temporary), target, data)
            return

    @counts_change
    def create(self, path: str, data: bytes) -> bool:
        """Write a temporary file, then hard-link it to ``path`` only if no file is there."""
        target = self._full_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            _write_synced(handle, data)
            os.link(temporary, target)
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        _fsync_directory(target.parent)
        return True

    def exists(self, path: str) -> bool:
        """Tell whether a file (not a directory) exists at ``path``."""
        return self._full_path(path).is_file()

    def list(self, prefix: str) -> list[str]:
        """Return the paths of all files under ``prefix``, recursively, sorted."""
        return sorted(self._walk_files(prefix))

    def list_objects(self, prefix: str) -> builtins.list[ObjectInfo]:
        """Return every file under ``prefix`` with size and mtime (UTC), sorted by path."""
        objects = []
        for path in self.list(prefix):
            try:
                status = (self.root / path).stat()
            except FileNotFoundError:
                continue  # deleted since the directory walk
            modified = datetime.fromtimestamp(status.st_mtime, tz=UTC)
            objects.append(
                ObjectInfo(path=path, size=status.st_size, last_modified=modified)
            )
        return objects

    def list_directories(self, prefix: str) -> builtins.list[str]:
        """Return the names of the immediate subdirectories of ``prefix``, sorted.

        Names starting with ``.`` are skipped, and a missing prefix gives ``[]``.
        """
        base = self._prefix_path(prefix)
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(
            entry.name
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(".")
        )

    @counts_change
    def delete(self, path: str) -> None:
        """Delete one file and the directories it leaves empty. A missing file is not an error."""
        target = self._full_path(path)
        target.unlink(missing_ok=True)
        self._remove_empty_parents(target.parent)

    @counts_change
    def delete_batch(self, paths: Iterable[str]) -> None:
        """Delete each file in turn, ignoring missing files."""
        for path in paths:
            self.delete(path)

    def uri(self, path: str) -> str:
        """Return the absolute local path of ``path``."""
        return str(self._full_path(path))

    def root_uri(self) -> str:
        """Return the absolute root directory, ending with ``/``."""
        return f"{self.root}/"

    def check(self) -> None:
        """Verify that the root is a directory in which files can be written, listed and deleted."""
        if self.root.exists() and not self.root.is_dir():
            raise unusable(
                self.description, "it is a file, not a directory; fix --storage"
            )
        if not self.root.exists():
            raise unusable(
                self.description,
                "the directory does not exist; create it or fix --storage",
            )
        verify_round_trip(self)

    def _full_path(self, path: str) -> Path:
        return self.root / check_object_path(path)

    def _prefix_path(self, prefix: str) -> Path:
        checked = check_prefix(prefix)
        return self.root / checked if checked else self.root

    def _walk_files(self, prefix: str) -> Iterator[str]:
        base = self._prefix_path(prefix)
        if not base.is_dir():
            return
        for directory, subdirectories, files in os.walk(base):
            # Pruning in place stops os.walk from entering hidden directories.
            subdirectories[:] = [
                name for name in subdirectories if not name.startswith(".")
            ]
            relative = Path(directory).relative_to(self.root).as_posix()
            for name in files:
                if not name.startswith("."):
                    yield name if relative == "." else f"{relative}/{name}"

    def _remove_empty_parents(self, directory: Path) -> None:
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # the directory is not empty, already gone or not removable
            directory = directory.parent


def _write_synced(handle: int, data: bytes) -> None:
    """Write ``data`` to the open file ``handle``, make it durable and close it."""
    with os.fdopen(handle, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _write_and_replace(handle: int, temporary: Path, target: Path, data: bytes) -> None:
    try:
        _write_synced(handle, data)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    # Syncing the directory makes the rename durable. Some file systems cannot
    # fsync a directory, and then the rename is left to the kernel.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        logger.debug("fsync of directory %s failed", directory)
    finally:
        os.close(descriptor)
