"""A fresh store for one crash trial, and checks of the files in it from outside the gateway."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gateway.config import Settings
from gateway.storage.file_versions import newest_versions
from gateway.storage.open import open_backend
from tests.emulators import moto_s3_settings, s3_client


@dataclass(frozen=True)
class TrialStore:
    """The storage URL and settings of one trial, and its local directory for logs and the write-ahead log."""

    settings: Settings
    directory: Path

    @property
    def wal_dir(self) -> Path:
        return self.directory / "wal"

    @property
    def local_root(self) -> Path | None:
        """The store's directory for a local store, None for S3."""
        url = self.settings.storage_url
        return None if url.startswith("s3://") else Path(url)


@dataclass(frozen=True)
class FileCheck:
    """Files under a prefix of the store after a crash.

    ``listed`` counts the Parquet files a listing returns (every version)
    and ``unreadable`` those that pyarrow cannot read whole.
    ``temporary_listed`` contains the listed names that are temporary files
    (a name part starting with ``.`` or ending in ``.tmp``).
    ``temporary_left`` counts the ``.tmp`` files on disk (local stores only).
    """

    listed: int
    unreadable: list[str]
    temporary_listed: list[str]
    temporary_left: int


def local_store(directory: Path) -> TrialStore:
    """Create an empty local store in ``directory``."""
    root = directory / "store"
    root.mkdir(parents=True)
    return TrialStore(Settings(storage_url=str(root)), directory)


def s3_store(directory: Path, endpoint: str) -> TrialStore:
    """Create a new bucket on the moto server at ``endpoint`` and return a store under a prefix of it."""
    bucket = f"crash-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    directory.mkdir(parents=True)
    settings = Settings(storage_url=f"s3://{bucket}/trial", s3=moto_s3_settings(endpoint))
    return TrialStore(settings, directory)


def check_files(store: TrialStore, prefix: str) -> FileCheck:
    """List the Parquet files under ``prefix`` as the gateway's queries do, and read each one whole."""
    backend = open_backend(store.settings.storage_url, store.settings)
    listed = [info for info in backend.list_objects(prefix) if info.path.endswith(".parquet")]
    live, superseded = newest_versions(listed)
    unreadable = []
    for info in [*live, *superseded]:
        try:
            pq.read_table(pa.BufferReader(backend.read(info.path)))
        except (OSError, pa.ArrowException):
            unreadable.append(info.path)
    temporary = [path for path in backend.list(prefix) if _is_temporary(path)]
    return FileCheck(len(listed), unreadable, temporary, _temporary_on_disk(store))


def _is_temporary(path: str) -> bool:
    return path.endswith(".tmp") or any(part.startswith(".") for part in path.split("/"))


def _temporary_on_disk(store: TrialStore) -> int:
    root = store.local_root
    if root is None:
        return 0
    return sum(1 for _, _, names in os.walk(root) for name in names if name.endswith(".tmp"))
