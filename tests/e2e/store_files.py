"""Looking at a gateway's store from outside the gateway: objects, their content hashes, their rows."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq

from gateway.storage.backend import StorageBackend
from gateway.storage.open import open_backend
from tests.emulators import StorageTarget


def store_backend(storage: StorageTarget) -> StorageBackend:
    """Return a backend of its own on the test's store (not the gateway's)."""
    return open_backend(storage.url, storage.settings)


def file_hashes(storage: StorageTarget, prefix: str) -> dict[str, str]:
    """Return {path: sha256 of the content} of every object under ``prefix``."""
    backend = store_backend(storage)
    return {path: hashlib.sha256(backend.read(path)).hexdigest() for path in backend.list(prefix)}


def parquet_tables(storage: StorageTarget, prefix: str) -> dict[str, pa.Table]:
    """Read every Parquet object under ``prefix`` whole; a file that is not valid Parquet raises."""
    backend = store_backend(storage)
    return {path: pq.read_table(pa.BufferReader(backend.read(path)))
            for path in backend.list(prefix) if path.endswith(".parquet")}
